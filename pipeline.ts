/**
 * The default experiment: Nonlinear Advantage (../shared/science.md §1) on the embedded
 * Fashion-MNIST subset. Dense ReLU pretraining keeps every epoch; sparsity-regularised PReLU
 * training starts from a chosen epoch (early / mid / late) with weight ω; linearisation snaps
 * α ≈ 1 and folds; path length measures what stays nonlinear; a width-matched plain network is
 * trained as the baseline; the report gathers the whole sweep.
 *
 *   npm start                                  the default sweep (ω × early/late)
 *   linea run --preset smoke                   every stage, tiny (the tests use it)
 *   linea run --ablate task=easy,hard          more axes; `linea ablate` picks them interactively
 *   linea run --set sparsify.omega=0.02        one value; reruns sparsify and what follows only
 */
import { axis, definePipeline, namedAxis } from 'linea';
import { baselineShapeStage } from './stages/baseline-shape.ts';
import { baselineStage } from './stages/baseline.ts';
import { linearizeStage } from './stages/linearize.ts';
import { pathLengthStage } from './stages/path-length.ts';
import { prepareDataStage } from './stages/prepare-data.ts';
import { pretrainStage } from './stages/pretrain.ts';
import { reportStage } from './stages/report.ts';
import { sparsifyStage } from './stages/sparsify.ts';

/** Dense epochs E, and the sparsified epochs of a late start: every run gets E + POST epochs. */
const DENSE_EPOCHS = 8;
const POST_EPOCHS = 4;
const RECIPE = { batchSize: 128, lr: 0.05, optimizer: { kind: 'sgd', momentum: 0.9 }, schedule: { kind: 'cosine' }, weightDecay: 5e-4 } as const;
/**
 * The sparsified phase at a lower rate and with the gradient's global norm clipped to 5: as units
 * turn linear, this network (no batch norm) can blow its logits up, and large-ω runs diverged to NaN.
 */
const SPARSE_RECIPE = { ...RECIPE, lr: 0.02, clipNorm: 5 } as const;

/** Fashion-MNIST class subsets (0 T-shirt, 1 trouser, 2 pullover, 3 dress, 4 coat, 5 sandal, 6 shirt, 7 sneaker, 8 bag, 9 boot). */
const ALL_CLASSES = [0, 1, 2, 3, 4, 5, 6, 7, 8, 9];

export default definePipeline({
  name: 'nonlinear-advantage',
  build(p) {
    const data = p.add(prepareDataStage, {}, { params: { source: { kind: 'fashion-mnist-embedded' }, downsample: 2 } });
    const dense = p.add(pretrainStage, { data }, { params: { recipe: { ...RECIPE, epochs: DENSE_EPOCHS } } });
    const sparse = p.add(sparsifyStage, { data, dense }, { params: { postEpochs: POST_EPOCHS, recipe: SPARSE_RECIPE } });
    const linearized = p.add(linearizeStage, { data, sparse });
    const pathLength = p.add(pathLengthStage, { linearized });
    const shape = p.add(baselineShapeStage, { linearized, pathLength });
    const baseline = p.add(baselineStage, { data, shape }, { params: { recipe: { ...RECIPE, epochs: DENSE_EPOCHS + POST_EPOCHS } } });
    p.add(reportStage, { dense, sparse, linearized, pathLength, baseline });
  },
  axes: {
    omega: axis('sparsify.omega', [1e-4, 1e-3, 3e-3, 1e-2, 2e-2, 3e-2, 5e-2, 1e-1, 3e-1, 1], {
      default: [3e-3, 1e-2, 2e-2, 3e-2, 5e-2, 1e-1, 3e-1],
      description: 'weight ω of the sparsity penalty ω·Σ|1−α|^½: from all-nonlinear to collapse',
    }),
    start: axis('sparsify.start', ['early', 'mid', 'late'], {
      default: ['early', 'late'],
      description: 'when the penalty is switched on: from initialisation, half-way, after dense training',
    }),
    arch: namedAxis(
      {
        'plain-cnn': { 'pretrain.arch': { kind: 'plain-cnn', channels: [16, 16, 32, 32], poolAfter: [1], batchNorm: false, head: 'flatten' } },
        resnet: { 'pretrain.arch': { kind: 'resnet', depth: 8, baseWidth: 8 } },
      },
      { description: 'the network: a 4-layer plain CNN with batch norm, or a CIFAR-style ResNet-v1' },
    ),
    task: namedAxis(
      {
        easy: { 'prepare-data.classes': [1, 8] },
        hard: { 'prepare-data.classes': [0, 2, 4, 6] },
        all: { 'prepare-data.classes': ALL_CLASSES },
        teacher: { 'prepare-data.source': { kind: 'teacher', depth: 4, size: 14 }, 'prepare-data.downsample': 1 },
      },
      { description: 'easy (trouser vs bag), hard (T-shirt, pullover, coat, shirt), all 10 classes, or a synthetic deep-teacher task' },
    ),
    width: axis('pretrain.width', [0.5, 1, 2], { description: 'channel multiplier of the dense network (core-network constancy)' }),
    depth: axis('pretrain.depth', [2, 4, 8], { description: 'conv layers of the plain CNN, or 6n+2 for the ResNet (core-network constancy)' }),
    seed: axis(['pretrain.seed', 'sparsify.seed', 'baseline.seed'], [0, 1, 2], { description: 'initial weights and data order' }),
  },
  presets: {
    smoke: {
      description: 'every stage on a few hundred 7×7 images with a tiny network: seconds',
      params: {
        'prepare-data.downsample': 4,
        'prepare-data.limit': { train: 600, test: 200 },
        'pretrain.arch': { kind: 'plain-cnn', channels: [4, 8], poolAfter: [0], batchNorm: true },
        'pretrain.recipe.epochs': 2,
        'sparsify.postEpochs': 1,
        'baseline.recipe.epochs': 3,
        // A few hundred parameters cannot be matched to 2 % with whole channel counts.
        'baseline-shape.tolerance': 0.1,
      },
      ablate: { omega: ['0.001', '0.1'], start: ['early', 'late'] },
    },
    full: {
      description: 'the full 60,000-image Fashion-MNIST at 28×28, ResNet-20, 30 + 10 epochs: for a GPU or a long CPU run',
      params: {
        'prepare-data.source': { kind: 'fashion-mnist' },
        'prepare-data.downsample': 1,
        'pretrain.arch': { kind: 'resnet', depth: 20, baseWidth: 16 },
        'pretrain.recipe.epochs': 30,
        'sparsify.postEpochs': 10,
        'baseline.recipe.epochs': 40,
      },
      ablate: { omega: ['0.0001', '0.001', '0.003', '0.01', '0.03', '0.1'], start: ['early', 'mid', 'late'], task: ['all', 'hard'] },
    },
  },
});
