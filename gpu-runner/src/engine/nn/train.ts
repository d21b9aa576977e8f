/**
 * Mini-batch training with the NLL loss on log-softmax (= cross-entropy on
 * logits) and PyTorch's SGD, for the paper's recipes: the MLPs (lr 0.01,
 * momentum 0.5, batch 64, 10 epochs, §1.1) and finetuning (§10.1: momentum
 * 0.9, weight decay, MultiStepLR, best test accuracy over epochs).
 *
 * Like a PyTorch DataLoader with shuffle=True and drop_last=False, every epoch
 * visits every sample once in a fresh random order, and the last batch may be
 * smaller. The order comes from the seeded RNG, so a seed fixes the run; it
 * cannot reproduce torch's order (a different generator).
 *
 * Every family trains in PyTorch's train() mode: BatchNorm layers normalise
 * with batch statistics and update their running statistics (batchnorm.ts);
 * the per-epoch evaluation and the returned models use those running
 * statistics, as eval() mode does. Conv nets on the wasm backend need the
 * training kernels runtime/backend.ts registers when it selects wasm.
 *
 * Two additions serve finetuning and distillation (§10): `augment` applies
 * the CIFAR crop/flip to each batch from its own seeded stream, and `teacher`
 * swaps the loss for the distillation loss against the teachers' mean logit
 * on the same (augmented) batch.
 *
 * Async only so that it yields to the event loop between batches (via
 * tf.nextFrame) and a caller can cancel through `signal`; the work itself is
 * synchronous on the chosen backend.
 */
import * as tf from '@tensorflow/tfjs';
import { type Model, type Params, validateParams } from '@clafusion/model-format/arch';
import { FusionError } from '@clafusion/model-format/errors';
import { Rng } from '../rng.ts';
import { type AugmentOptions, augmentBatch, imageGeometry } from './augment.ts';
import { batchGradients } from './batch-gradients.ts';
import { DATA_PARALLEL_BACKENDS, DataParallelTrainer } from './data-parallel-train.ts';
import { type DistillOptions, checkDistillOptions } from './distill-loss.ts';
import { type LabeledData, argmaxRows, checkBatchSize, checkLabels, fractionCorrect, gatherRows, inputLayout, oneHot } from './data.ts';
import { familyNet } from './families.ts';
import { forwardWith } from './forward.ts';
import { runningStatIndices } from './layers.ts';
import { downloadParams, uploadParams } from './params.ts';
import { type LrSchedule, constantLr, multiStepLr } from './schedule.ts';
import { Sgd } from './sgd.ts';
import { Teachers } from './teachers.ts';

export interface TrainProgress {
  /** 1-based epoch. */
  epoch: number;
  /** 1-based batch within the epoch. */
  batch: number;
  batches: number;
  /** Mean loss over this batch. */
  loss: number;
}

export interface EpochMetrics {
  /** 1-based epoch. */
  epoch: number;
  /** Mean per-sample training loss over the epoch. */
  loss: number;
  /**
   * Fraction of training samples classified correctly as they were trained
   * on, i.e. by the weights just before each batch's update (the running
   * accuracy training scripts print, not a separate pass).
   */
  trainAccuracy: number;
  /** Accuracy on `options.eval` after the epoch, when an eval set is given. */
  evalAccuracy?: number;
  /** Learning rate used during this epoch. */
  lr: number;
}

/** Knowledge distillation (§10.2): the teachers and the loss's α and T. */
export interface TeacherOptions extends DistillOptions {
  /** One or more trained models; the target is their mean logit, in eval mode. */
  models: readonly Model[];
}

export interface TrainOptions {
  lr: number;
  momentum?: number;
  weightDecay?: number;
  /** Default 64, the paper's MLP batch size. */
  batchSize?: number;
  epochs: number;
  /** Seeds the per-epoch shuffling. */
  seed: number;
  /** Default true. Without it batches follow the data order (useful for exact tests). */
  shuffle?: boolean;
  /** A schedule function, or MultiStepLR's milestones and gamma. Default: constant lr. */
  schedule?: LrSchedule | { milestones: number[]; gamma: number };
  /** Evaluated after every epoch; enables best-epoch tracking. */
  eval?: LabeledData;
  evalBatchSize?: number;
  /**
   * Random crop and flip of every training batch (NCHW images; see
   * augment.ts for the fill of normalised data). Draws come from a stream
   * forked off `seed`, so the shuffle order is the same with or without it.
   */
  augment?: AugmentOptions;
  /** Train by distillation from these teachers instead of plain cross-entropy. */
  teacher?: TeacherOptions;
  /**
   * Also evaluate before the first epoch (`initialEvalAccuracy`). Default:
   * with a teacher, because distillation's reported number includes it.
   */
  evalInitial?: boolean;
  /**
   * Worker threads that train data-parallel, each on a contiguous shard of
   * every batch (data-parallel-train.ts). Default 1: this thread, no
   * workers. The result depends on the count only through float32 rounding
   * (a batch's gradient summed per shard), and is the same for the same seed
   * and count. Only the wasm and cpu backends use threads; the others run
   * their own thread pools and train on this thread.
   */
  threads?: number;
  onProgress?: (progress: TrainProgress) => void;
  onEpoch?: (metrics: EpochMetrics) => void;
  signal?: AbortSignal;
}

export interface TrainResult {
  /** The model after the last epoch (fresh host arrays). */
  model: Model;
  history: EpochMetrics[];
  /** Threads the batches were trained on (see TrainOptions.threads; 1 without workers). */
  threads: number;
  /**
   * With an eval set: the first epoch reaching the highest eval accuracy, and
   * the model as it was after that epoch (what `--ckpt-type best` loads).
   */
  best?: { epoch: number; evalAccuracy: number; model: Model };
  /** With an eval set and `evalInitial`: the accuracy before any training. */
  initialEvalAccuracy?: number;
  /**
   * With an eval set: the number the paper reports (§10) and which weights
   * give it. Without a teacher (finetuning), the best epoch; the accuracy
   * before training is not a candidate. With a teacher, the maximum over the
   * student before distillation (epoch 0, then `model` is a copy of the
   * input) and after every epoch. Ties go to the earliest.
   */
  reported?: { epoch: number; evalAccuracy: number; model: Model };
}

/** Trains a copy of `model` on `data`; the input model is not modified. */
export async function train(model: Model, data: LabeledData, options: TrainOptions): Promise<TrainResult> {
  const { arch } = model;
  validateParams(arch, model.params);
  const { n, features } = inputLayout(arch, data.x, 'train.x');
  checkLabels(data.y, n, arch.classes, 'train.y');
  if (options.eval !== undefined) {
    const e = inputLayout(arch, options.eval.x, 'eval.x');
    checkLabels(options.eval.y, e.n, arch.classes, 'eval.y');
  }
  const batchSize = checkBatchSize(options.batchSize ?? 64);
  if (!Number.isInteger(options.epochs) || options.epochs < 0) {
    throw new FusionError('INVALID_ARGUMENT', `epochs must be a non-negative integer, got ${options.epochs}`, {
      field: 'epochs',
    });
  }
  if (!Number.isFinite(options.lr) || options.lr < 0) {
    throw new FusionError('INVALID_ARGUMENT', `lr must be a finite number ≥ 0, got ${options.lr}`, { field: 'lr' });
  }
  const schedule = toSchedule(options.schedule);
  const threads = trainingThreads(options.threads);
  if (options.teacher !== undefined) checkDistillOptions(options.teacher);
  const image = options.augment === undefined ? undefined : imageGeometry(arch, data.x.shape);
  const rng = new Rng(options.seed);
  // A generator of its own, so the shuffle stream is the same with and
  // without augmentation (and as it was before augmentation existed).
  const augmentRng = new Rng(options.seed).fork();
  const net = familyNet(arch);
  const classes = arch.classes;
  const batches = Math.ceil(n / batchSize);

  // Variables in paramSpecs order: the order FamilyNet.apply expects.
  // BatchNorm running statistics are buffers, not parameters: they get no
  // gradient, no SGD step and no weight decay; training mode overwrites them
  // with the net's running-stat updates after every batch.
  const initial = uploadParams(model);
  const buffers = runningStatIndices(arch);
  const vars = initial.map((t, i) => tf.variable(t, !buffers.has(i)));
  tf.dispose(initial);
  const trainable = vars.filter((_, i) => !buffers.has(i));
  const sgd = new Sgd(trainable, { momentum: options.momentum, weightDecay: options.weightDecay });
  const history: EpochMetrics[] = [];
  let best: TrainResult['best'];
  let initialEvalAccuracy: number | undefined;
  let teachers: Teachers | undefined;
  let parallel: DataParallelTrainer | undefined;

  try {
    if (options.teacher !== undefined) teachers = new Teachers(options.teacher.models, arch);
    if (threads > 1 && batchSize > 1 && n > 1 && options.epochs > 0) {
      const { models, alpha, temperature } = options.teacher ?? {};
      parallel = await DataParallelTrainer.start(model, {
        threads: Math.min(threads, batchSize, n),
        momentum: options.momentum ?? 0,
        weightDecay: options.weightDecay ?? 0,
        teacher: models && { models, alpha: alpha!, temperature: temperature! },
      });
    }
    const evaluate = (eval_: LabeledData) =>
      fractionCorrect(argmaxRows(forwardWith(arch, vars, eval_.x, { batchSize: options.evalBatchSize }).logits, classes), eval_.y);
    if (options.eval !== undefined && (options.evalInitial ?? teachers !== undefined)) initialEvalAccuracy = evaluate(options.eval);

    for (let epoch = 1; epoch <= options.epochs; epoch++) {
      const lr = schedule(epoch - 1, options.lr);
      const order = options.shuffle === false ? identity(n) : rng.permutation(n);
      let lossSum = 0;
      let correct = 0;

      for (let b = 0; b < batches; b++) {
        options.signal?.throwIfAborted();
        const idx = order.subarray(b * batchSize, Math.min(n, (b + 1) * batchSize));
        const labels = Int32Array.from(idx, (i) => data.y[i]);
        const rows = gatherRows(data.x.data, features, idx);
        const xb = image === undefined ? rows : augmentBatch(rows, idx.length, ...image, options.augment!, augmentRng);
        const targets = oneHot(labels, classes);

        const [lossValue, predictions] =
          parallel !== undefined
            ? await parallel.step(xb, targets, classes, lr).then((r): [number, Float32Array] => [r.loss, r.logits])
            : tf.tidy((): [number, Float32Array] => {
                const x = tf.tensor2d(xb, [idx.length, features]);
                const t = tf.tensor2d(targets, [idx.length, classes]);
                const teacher = teachers && { teachers, options: options.teacher! };
                const { value, grads, logits, stats } = batchGradients(arch, net, vars, trainable, x, t, teacher);
                // Read before the update: these are the predictions of the weights
                // the loss was computed with.
                const read: [number, Float32Array] = [value.dataSync()[0], new Float32Array(logits.dataSync())];
                logits.dispose();
                sgd.step(
                  trainable.map((v) => grads[v.name]),
                  lr,
                );
                for (const u of stats) {
                  vars[u.index].assign(u.value);
                  u.value.dispose();
                }
                return read;
              });

        lossSum += lossValue * idx.length;
        const predicted = argmaxRows(predictions, classes);
        for (let i = 0; i < labels.length; i++) if (predicted[i] === labels[i]) correct++;
        options.onProgress?.({ epoch, batch: b + 1, batches, loss: lossValue });
        await tf.nextFrame();
      }

      const metrics: EpochMetrics = { epoch, loss: lossSum / n, trainAccuracy: correct / n, lr };
      if (options.eval !== undefined) {
        await parallel?.sync(model, vars);
        metrics.evalAccuracy = evaluate(options.eval);
        if (best === undefined || metrics.evalAccuracy > best.evalAccuracy) {
          best = { epoch, evalAccuracy: metrics.evalAccuracy, model: { arch, params: downloadParams(arch, vars) } };
        }
      }
      history.push(metrics);
      options.onEpoch?.(metrics);
    }
    await parallel?.sync(model, vars);
    const result: TrainResult = { model: { arch, params: downloadParams(arch, vars) }, history, threads: parallel?.threads ?? 1 };
    if (best !== undefined) result.best = best;
    if (initialEvalAccuracy !== undefined) result.initialEvalAccuracy = initialEvalAccuracy;
    const reported = reportedCheckpoint(model, best, teachers !== undefined ? initialEvalAccuracy : undefined);
    if (reported !== undefined) result.reported = reported;
    return result;
  } finally {
    await parallel?.close();
    teachers?.dispose();
    sgd.dispose();
    tf.dispose(vars);
  }
}

/**
 * §10's reported checkpoint: the best epoch, or the untouched input when a
 * candidate accuracy before training is given and no epoch beats it (a tie
 * keeps the input, the earliest).
 */
function reportedCheckpoint(input: Model, best: TrainResult['best'], initial: number | undefined): TrainResult['reported'] {
  if (initial !== undefined && (best === undefined || best.evalAccuracy <= initial)) {
    return { epoch: 0, evalAccuracy: initial, model: copyModel(input) };
  }
  return best;
}

function copyModel(model: Model): Model {
  const params: Params = new Map();
  for (const [name, t] of model.params) params.set(name, { shape: [...t.shape], data: new Float32Array(t.data) });
  return { arch: model.arch, params };
}

function toSchedule(schedule: TrainOptions['schedule']): LrSchedule {
  if (schedule === undefined) return constantLr;
  if (typeof schedule === 'function') return schedule;
  return multiStepLr(schedule.milestones, schedule.gamma);
}

function trainingThreads(threads: number | undefined): number {
  if (threads === undefined) return 1;
  if (!Number.isInteger(threads) || threads < 1) {
    throw new FusionError('INVALID_ARGUMENT', `threads must be a positive integer, got ${threads}`, { field: 'threads' });
  }
  return (DATA_PARALLEL_BACKENDS as readonly string[]).includes(tf.getBackend()) ? threads : 1;
}

function identity(n: number): Int32Array {
  const out = new Int32Array(n);
  for (let i = 0; i < n; i++) out[i] = i;
  return out;
}
