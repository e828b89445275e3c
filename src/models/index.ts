/** What stages use from src/models: backends, architectures, data, training, weights on disk. */
export { selectBackend, describeSelection, registerNativeBackend, backendNames, BackendError } from './backends.ts';
export type { BackendSelection, BackendCandidate } from './backends.ts';
export { buildModel, parseModelConfig, modelConfig, hiddenWidths } from './architectures/index.ts';
export type { ModelConfig, ModelConfigInput, PlainCnnConfig, ResnetConfig, MlpConfig } from './architectures/index.ts';
export { Model } from './model.ts';
export type {
  ActivationSite,
  Structure,
  ParamSpec,
  ParamRole,
  ParamCount,
  ForwardOptions,
  Nonlinearity,
} from './model.ts';
export { referenceModel, REFERENCE_MODELS } from './reference-models.ts';
export { train, evaluate, trainingStep, optimizerFor, loadCheckpoint, trainConfig, TrainingError } from './train.ts';
export type {
  TrainConfig,
  TrainConfigInput,
  Regularizer,
  EpochMetrics,
  EpochEnd,
  ResumeState,
  TrainProgress,
} from './train.ts';
export { learningRate } from './optimizers.ts';
export type { OptimizerConfig, ScheduleConfig } from './optimizers.ts';
export { saveModel, loadModel, directoryHandler } from './weights-io.ts';
export * from './data/dataset.ts';
export { readIdx, parseIdx, encodeIdx } from './data/idx.ts';
export { readCifar, parseCifar, encodeCifar } from './data/cifar.ts';
export {
  readFashionMnist,
  readEmbeddedFashionMnist,
  FASHION_MNIST_CLASSES,
  DEBIAN_FASHION_MNIST_DIR,
  EMBEDDED_FASHION_MNIST_DIR,
} from './data/fashion-mnist.ts';
export { teacherTask, deepTeacher } from './data/teacher.ts';
export { prepareData, saveData, loadData, dataSpec } from './data/prepare.ts';
export type { DataSpec, DataSpecInput, PreparedData } from './data/prepare.ts';
export { deriveSeed, mulberry32 } from './random.ts';
export { averagePathLength, coreNetwork, countUnits, nonlinearUnits, siteUnits } from './path-length.ts';
export type { PathLength, SiteUnits, CoreNetwork } from './path-length.ts';
export { frozenSlopes, sparsityPenalty, withPrelu } from './sparsity.ts';
export { snapAlphas, foldLinear } from './linearize.ts';
export type { Snapped, Folded } from './linearize.ts';
export { widthMatchedBaseline, baselineLayout, plainCnnParams } from './baseline.ts';
export type { Baseline } from './baseline.ts';
export type { SparsityOptions, SparsityRegularizer } from './sparsity.ts';
export {
  ABLATION_LEVELS,
  agreement,
  pruneThreshold,
  covarianceEigenvalues,
  compressibility,
  growthFactor,
  predictions,
  knockoutAgreement,
  prunability,
  targetedKnockout,
  siteActivations,
  redundancy,
  recordedSites,
  frivolousMeasures,
} from './frivolous.ts';
export type { Prunability, Redundancy, TargetedKnockout, FrivolousMeasures } from './frivolous.ts';
export {
  flatParams,
  setFlatParams,
  outputGradients,
  hessianVectorProduct,
  hessianSpectralNorm,
  powerIteration,
  tangentKernel,
  relativeKernelChange,
  linearizationGap,
  meanHessianNorm,
  relativeTravel,
  fitSquaredLoss,
  sphereProductTask,
  logLogSlope,
} from './linearity.ts';
export type { ParamSelection, HessianOptions } from './linearity.ts';
