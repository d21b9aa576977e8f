/**
 * Turns a validated fusion request into engine calls: records activations
 * with the selected tensor backend, runs CLAFusion for two or K models, times
 * every stage, evaluates when labelled data is given, and assembles the
 * report. Shared by the CLI and the job runner; it reads no files.
 */
import { type Model, layerCount, paramSpecs } from '../engine/arch.ts';
import { FusionError } from '../engine/errors.ts';
import { type Tensor32, numel } from '../engine/tensor.ts';
import { fusePair } from '../engine/fusion/fuse-pair.ts';
import { fuseMany } from '../engine/fusion/fuse-many.ts';
import type { FusionHooks, FusionStage } from '../engine/fusion/hooks.ts';
import type { FusionOptions } from '../engine/fusion/options.ts';
import { normalizeWeights } from '../engine/fusion/weights.ts';
import { accuracy, predictionEnsemble } from '../engine/nn/evaluate.ts';
import { type LabeledData, checkLabels, inputLayout } from '../engine/nn/data.ts';
import { StageTimer } from './stage-timer.ts';
import { createTapRecorder } from './record-taps.ts';
import { type Renormalization, renormalize } from './renormalize.ts';
import { type FinetuneRequest, type FusionTrainingEvent, checkFinetuneRequest, finetuneFusion } from './finetune-fusion.ts';
import { type DistillRequest, checkDistillRequest, distillFusion } from './distill-fusion.ts';
import { type FusionReport, REPORT_STAGES, type ReportAlignmentGroup, type ReportInput, type ReportLayerMapping, type ReportStage } from './report.ts';
import { ENGINE_VERSION } from './version.ts';

export const DEFAULT_SAMPLES = 200;

export interface FusionRequestModel {
  model: Model;
  /** A name for messages and reports, e.g. the file name. */
  label: string;
  sha256?: string;
}

export interface FusionRequest {
  models: FusionRequestModel[];
  /** Calibration inputs [N, ...input]; the first `samples` rows are used. */
  calibration: Tensor32;
  /** How many calibration rows to use; null = min(200, N). */
  samples: number | null;
  evaluation?: LabeledData;
  options: FusionOptions;
  /** Finetune after fusion (§10.1); the outcome's `fused` is then the finetuned model. */
  finetune?: FinetuneRequest;
  /** Distil the inputs into the fused model after fusion (§10.2); exclusive with `finetune`. */
  distill?: DistillRequest;
}

export interface ProgressEvent {
  stage: FusionStage | 'evaluation';
  /** Progress within the stage, 0..1. */
  fraction: number;
  message: string;
}

export interface RunContext {
  /** Backend description for the report, e.g. "wasm (tfjs 4.22.0, SIMD, 1 thread)". */
  backend: string;
  /** Milliseconds from an arbitrary origin (performance.now in production). */
  now: () => number;
  onProgress?: (event: ProgressEvent) => void;
  /** Per-batch and per-epoch events of finetuning or distillation, when the request asks for it. */
  onTraining?: (event: FusionTrainingEvent) => void;
  /** Cancels finetuning between batches. */
  signal?: AbortSignal;
  /**
   * Threads to record activations on (default 1). The output does not
   * depend on it: each thread records a range of samples, and a sample's
   * values do not depend on the others.
   */
  threads?: number;
}

export interface FusionOutcome {
  fused: Model;
  /** Index (0-based) of the input whose naming convention the output takes. */
  namingFrom: number;
  depthAligned: { input: number; model: Model }[];
  report: FusionReport;
  /** With finetuning or distillation: the fused model as fusion left it (`fused` is the trained one). */
  unfinetuned?: Model;
  /** With finetuning of all models: the finetuned inputs and depth-aligned models (1-based `input`). */
  finetuned?: { input: number; model: 'input' | 'depth-aligned'; trained: Model }[];
}

export function resolveSamples(requested: number | null, available: number): number {
  if (requested === null) return Math.min(DEFAULT_SAMPLES, available);
  if (!Number.isInteger(requested) || requested < 1) {
    throw new FusionError('INVALID_ARGUMENT', `samples must be a positive integer, got ${requested}`, { field: 'samples' });
  }
  if (requested > available) {
    throw new FusionError('INVALID_ARGUMENT', `--samples ${requested} asks for more calibration rows than the ${available} given`, {
      field: 'samples',
    });
  }
  return requested;
}

function firstRows(x: Tensor32, rows: number): Tensor32 {
  const per = numel(x.shape.slice(1));
  return { shape: [rows, ...x.shape.slice(1)], data: x.data.subarray(0, rows * per) };
}

export async function runFusion(request: FusionRequest, ctx: RunContext): Promise<FusionOutcome> {
  const { models, options } = request;
  if (models.length < 2) throw new FusionError('INVALID_ARGUMENT', 'fusion needs at least two models', { field: 'models' });
  const family = models[0].model.arch.family;
  models.forEach((m, i) => {
    if (m.model.arch.family !== family) {
      throw new FusionError('INCOMPATIBLE_MODELS', `model ${i + 1} (${m.label}) is a ${m.model.arch.family}, model 1 is a ${family}`);
    }
    if (m.model.arch.classes !== models[0].model.arch.classes || numel(m.model.arch.input) !== numel(models[0].model.arch.input)) {
      throw new FusionError('INCOMPATIBLE_MODELS', `model ${i + 1} (${m.label}) has a different input size or class count from model 1`);
    }
  });
  // Check the data against the models before any work, so a wrong file fails
  // at once with a message naming it.
  inputLayout(models[0].model.arch, request.calibration, 'calibration x');
  if (request.evaluation) {
    const { n } = inputLayout(models[0].model.arch, request.evaluation.x, 'eval x');
    checkLabels(request.evaluation.y, n, models[0].model.arch.classes, 'eval y');
  }
  if (request.finetune && request.distill) {
    throw new FusionError('INVALID_ARGUMENT', 'a fusion either finetunes or distils the fused model, not both', { field: 'distill' });
  }
  if (request.finetune) checkFinetuneRequest(request.finetune, models[0].model.arch, options.seed);
  if (request.distill) checkDistillRequest(request.distill, models[0].model.arch, options.seed);
  const calibrationRows = request.calibration.shape[0];
  const samples = resolveSamples(request.samples, calibrationRows);
  const calibration = firstRows(request.calibration, samples);

  const timer = new StageTimer<ReportStage | 'evaluation' | 'normalization'>(ctx.now);
  const t0 = ctx.now();
  const recordTaps = createTapRecorder(calibration, options.activations, { threads: ctx.threads });
  const hooks: FusionHooks = {
    record: async (model, role) => {
      ctx.onProgress?.({ stage: 'activations', fraction: 0, message: `recording ${role}` });
      return recordTaps(model);
    },
    stage: (stage, phase) => {
      if (phase === 'start') {
        timer.start(stage);
        ctx.onProgress?.({ stage, fraction: 0, message: stage });
      } else {
        timer.end(stage);
        ctx.onProgress?.({ stage, fraction: 1, message: stage });
        // The recording threads' backends hold hundreds of MB: end them between
        // recordings (a later recording starts new ones; none does for a pair).
        if (stage === 'activations') void recordTaps.close();
      }
    },
    progress: (stage, fraction, message) => ctx.onProgress?.({ stage, fraction, message }),
  };

  const weights = normalizeWeights(options.weights, models.length);
  const inputs: ReportInput[] = models.map((m, i) => ({
    index: i + 1,
    label: m.label,
    sha256: m.sha256 ?? null,
    arch: m.model.arch,
    role: 'member',
  }));
  let fused: Model;
  let namingFrom: number;
  let groups: ReportAlignmentGroup[] = [];
  const mappings: ReportLayerMapping[] = [];
  let depthAligned: { input: number; model: Model }[] = [];
  let layers: FusionReport['fusion']['layers'] = [];
  let n0: number | null = null;
  let n1: number | null = null;
  let anchor: number | null = null;
  let balancedPair: Parameters<typeof renormalize>[1] = null;

  if (models.length === 2) {
    const pair = await fusePair([models[0].model, models[1].model], options, samples, hooks).finally(() => recordTaps.close());
    fused = pair.fused;
    namingFrom = pair.deeper;
    const equal = layerCount(models[0].model.arch) === layerCount(models[1].model.arch);
    inputs[pair.deeper].role = equal ? 'equal-depth' : 'deeper';
    inputs[pair.shallower].role = equal ? 'equal-depth' : 'shallower';
    groups = pair.alignment.map((g) => ({ ...g, rowsModel: pair.deeper + 1, colsModel: pair.shallower + 1 }));
    if (pair.mapping) mappings.push({ rowsModel: pair.deeper + 1, colsModel: pair.shallower + 1, mapping: pair.mapping });
    if (pair.depthAligned) depthAligned = [{ input: pair.depthAligned.input, model: pair.depthAligned.model }];
    layers = pair.layers.map((l) => ({ ...l, model: pair.n0 + 1 }));
    n0 = pair.n0 + 1;
    n1 = pair.n1 + 1;
    balancedPair = { ...pair.balanced, weightN1: pair.weightN1 };
  } else {
    const many = await fuseMany(
      models.map((m) => m.model),
      options,
      samples,
      hooks,
    ).finally(() => recordTaps.close());
    fused = many.fused;
    namingFrom = many.anchor;
    anchor = many.anchor + 1;
    inputs[many.anchor].role = 'anchor';
    for (const member of many.members) {
      groups.push(
        ...member.alignment.map((g) => ({ ...g, name: `model ${member.input + 1}: ${g.name}`, rowsModel: many.anchor + 1, colsModel: member.input + 1 })),
      );
      if (member.mapping) mappings.push({ rowsModel: many.anchor + 1, colsModel: member.input + 1, mapping: member.mapping });
      if (member.depthAligned) depthAligned.push({ input: member.input, model: member.depthAligned });
      layers.push(...member.layers.map((l) => ({ ...l, model: member.input + 1 })));
    }
  }

  // BatchNorm re-estimation and REPAIR, keeping the earlier versions to report their accuracy.
  const renormalized: Renormalization = renormalize(fused, balancedPair, calibration, options, timer);
  fused = renormalized.model;

  let accuracyReport: FusionReport['accuracy'] = null;
  if (request.evaluation) {
    const data = request.evaluation;
    timer.start('evaluation');
    ctx.onProgress?.({ stage: 'evaluation', fraction: 0, message: 'evaluating' });
    const modelAcc = models.map((m) => accuracy(m.model, data));
    accuracyReport = {
      models: modelAcc,
      fused: accuracy(fused, data),
      ...renormalized.earlierAccuracies(data),
      ensemble: predictionEnsemble(
        models.map((m) => m.model),
        weights,
        data,
      ).accuracy,
      depthAligned: depthAligned.map((d) => accuracy(d.model, data)),
      depthAlignedInputs: depthAligned.map((d) => d.input + 1),
      samples: data.x.shape[0],
    };
    timer.end('evaluation');
    ctx.onProgress?.({ stage: 'evaluation', fraction: 1, message: 'evaluated' });
  }
  const unfinetuned = fused;
  const stepContext = { now: ctx.now, onTraining: ctx.onTraining, signal: ctx.signal, seed: options.seed };
  const finetuned = request.finetune
    ? await finetuneFusion(request.finetune, { fused, inputs: models.map((m) => m.model), depthAligned }, request.evaluation, stepContext)
    : request.distill
      ? await distillFusion(request.distill, { fused, inputs: models.map((m) => m.model) }, request.evaluation, stepContext)
      : undefined;
  if (finetuned) {
    fused = finetuned.fused;
    if (accuracyReport && finetuned.accuracy) accuracyReport.finetuned = finetuned.accuracy;
  }
  const total = (ctx.now() - t0) / 1000;

  const report: FusionReport = {
    schema: 'clafusion.report/v1',
    engine: { name: 'clafusion', version: ENGINE_VERSION },
    backend: ctx.backend,
    seed: options.seed,
    options,
    inputs,
    calibration: { samples, available: calibrationRows },
    alignment: { groups, mappings },
    balance: {
      method: options.balance,
      depthAligned: depthAligned.map((d) => ({ input: d.input + 1, arch: d.model.arch })),
    },
    fusion: { method: options.fusion, n0, n1, anchor, weights, layers, normalization: renormalized.steps },
    fused: {
      arch: fused.arch,
      sha256: null,
      parameters: paramSpecs(fused.arch).reduce((s, p) => s + numel(p.shape), 0),
    },
    accuracy: accuracyReport,
    timings: {
      ...timer.seconds([...REPORT_STAGES, 'evaluation']),
      ...(renormalized.steps.length > 0 ? timer.seconds(['normalization']) : {}),
      ...(finetuned ? { [finetuned.training.kind]: finetuned.seconds } : {}),
      total: Math.round(total * 1e6) / 1e6,
    },
  };
  if (!finetuned) return { fused, namingFrom, depthAligned, report };
  report.training = finetuned.training;
  return { fused, namingFrom, depthAligned, report, unfinetuned, finetuned: finetuned.others };
}
