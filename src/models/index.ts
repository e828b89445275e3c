/** What stages use from src/models: backends, architectures, data, training, weights on disk. */
export { selectBackend, describeSelection, registerNativeBackend, backendNames, BackendError } from './backends.ts';
export type { BackendSelection, BackendCandidate } from './backends.ts';
export { buildModel, parseModelConfig, modelConfig, hiddenWidths } from './architectures/index.ts';
export type { ModelConfig, ModelConfigInput, PlainCnnConfig, ResnetConfig, MlpConfig } from './architectures/index.ts';
export { Model } from './model.ts';
export type { ActivationSite, Structure, ParamSpec, ParamRole, ParamCount, ForwardOptions } from './model.ts';
export { referenceModel, REFERENCE_MODELS } from './reference-models.ts';
export { train, evaluate, trainingStep, optimizerFor, loadCheckpoint, trainConfig, TrainingError } from './train.ts';
export type { TrainConfig, TrainConfigInput, Regularizer, EpochMetrics, EpochEnd, ResumeState, TrainProgress } from './train.ts';
export { learningRate } from './optimizers.ts';
export type { OptimizerConfig, ScheduleConfig } from './optimizers.ts';
export { saveModel, loadModel, directoryHandler } from './weights-io.ts';
export * from './data/dataset.ts';
export { readIdx, parseIdx, encodeIdx } from './data/idx.ts';
export { readCifar, parseCifar, encodeCifar } from './data/cifar.ts';
export { readFashionMnist, readEmbeddedFashionMnist, FASHION_MNIST_CLASSES, DEBIAN_FASHION_MNIST_DIR, EMBEDDED_FASHION_MNIST_DIR } from './data/fashion-mnist.ts';
export { teacherTask, deepTeacher } from './data/teacher.ts';
export { deriveSeed, mulberry32 } from './random.ts';
