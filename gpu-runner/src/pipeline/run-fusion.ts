/**
 * Turns a validated fusion request into engine calls: records activations
 * with the selected tensor backend, runs CLAFusion for two or K models, times
 * every stage, evaluates when labelled data is given, and assembles the
 * report. Shared by the CLI and the job runner; it reads no files.
 *
 * runFusion reads as its steps: checkRequest (models and data agree, before
 * any work), fuseModels (two or K models, one result shape), renormalize,
 * evaluate, train (finetune or distill), buildReport.
 */
import { type Model, layerCount, paramSpecs } from '@clafusion/model-format/arch';
import { FusionError } from '@clafusion/model-format/errors';
import { type Tensor32, numel } from '@clafusion/model-format/tensor';
import { fusePair } from '../engine/fusion/fuse-pair.ts';
import { fuseMany } from '../engine/fusion/fuse-many.ts';
import type { FusionHooks, FusionStage } from '../engine/fusion/hooks.ts';
import type { FusionOptions } from '../engine/fusion/options.ts';
import { normalizeWeights } from '../engine/fusion/weights.ts';
import { accuracy, predictionEnsemble } from '../engine/nn/evaluate.ts';
import { type LabeledData, checkLabels, inputLayout } from '../engine/nn/data.ts';
import { StageTimer } from './stage-timer.ts';
import { type RecordingRuntime, createTapRecorder } from './record-taps.ts';
import type { RecordRuntime } from '../runtime/record-runtime.ts';
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
  /**
   * Where CNN activations are recorded: 'onnxruntime', 'tfjs', or undefined
   * for onnxruntime when onnxruntime-node loads, else tfjs (record-taps.ts);
   * undefined on the node-gpu backend means tfjs (the GPU).
   */
  recordRuntime?: RecordRuntime;
}

export interface FusionOutcome {
  fused: Model;
  /** With REPAIR: the fused model before it (`fused` is the repaired one). */
  unrepaired?: Model;
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
    throw new FusionError('INVALID_ARGUMENT', `samples ${requested} asks for more calibration rows than the ${available} given`, {
      field: 'samples',
    });
  }
  return requested;
}

function firstRows(x: Tensor32, rows: number): Tensor32 {
  const per = numel(x.shape.slice(1));
  return { shape: [rows, ...x.shape.slice(1)], data: x.data.subarray(0, rows * per) };
}

/**
 * Checks the request against itself before any work, so a wrong file fails
 * at once with a message naming it: at least two models of one family with
 * the same input size and classes, data shaped for them, and at most one of
 * finetuning and distillation.
 */
function checkRequest(request: FusionRequest): void {
  const { models, options } = request;
  if (models.length < 2) throw new FusionError('INVALID_ARGUMENT', 'fusion needs at least two models', { field: 'models' });
  const first = models[0].model.arch;
  models.forEach((m, i) => {
    if (m.model.arch.family !== first.family) {
      throw new FusionError('INCOMPATIBLE_MODELS', `model ${i + 1} (${m.label}) is a ${m.model.arch.family}, model 1 is a ${first.family}`);
    }
    if (m.model.arch.classes !== first.classes || numel(m.model.arch.input) !== numel(first.input)) {
      throw new FusionError('INCOMPATIBLE_MODELS', `model ${i + 1} (${m.label}) has a different input size or class count from model 1`);
    }
  });
  inputLayout(first, request.calibration, 'calibration x');
  if (request.evaluation) {
    const { n } = inputLayout(first, request.evaluation.x, 'eval x');
    checkLabels(request.evaluation.y, n, first.classes, 'eval y');
  }
  if (request.finetune && request.distill) {
    throw new FusionError('INVALID_ARGUMENT', 'a fusion either finetunes or distils the fused model, not both', { field: 'distill' });
  }
  if (request.finetune) checkFinetuneRequest(request.finetune, first, options.seed);
  if (request.distill) checkDistillRequest(request.distill, first, options.seed);
}

/** What fusing two or K models gives, in the report's terms (1-based model numbers). */
interface FusedModels {
  fused: Model;
  /** Index (0-based) of the input whose naming convention the output takes. */
  namingFrom: number;
  roles: { input: number; role: ReportInput['role'] }[];
  groups: ReportAlignmentGroup[];
  mappings: ReportLayerMapping[];
  depthAligned: { input: number; model: Model }[];
  layers: FusionReport['fusion']['layers'];
  n0: number | null;
  n1: number | null;
  anchor: number | null;
  /** The parents REPAIR interpolates: the balanced pair and its OT results, or the anchor and each balanced member. */
  repairFrom: Parameters<typeof renormalize>[1];
}

/** Two models: CLAFusion of the pair (deeper and shallower); K models: each fused onto the anchor. */
async function fuseModels(models: FusionRequestModel[], options: FusionOptions, hooks: FusionHooks): Promise<FusedModels> {
  if (models.length === 2) {
    const pair = await fusePair([models[0].model, models[1].model], options, hooks);
    const equal = layerCount(models[0].model.arch) === layerCount(models[1].model.arch);
    return {
      fused: pair.fused,
      namingFrom: pair.deeper,
      roles: [
        { input: pair.deeper, role: equal ? 'equal-depth' : 'deeper' },
        { input: pair.shallower, role: equal ? 'equal-depth' : 'shallower' },
      ],
      groups: pair.alignment.map((g) => ({ ...g, rowsModel: pair.deeper + 1, colsModel: pair.shallower + 1 })),
      mappings: pair.mapping ? [{ rowsModel: pair.deeper + 1, colsModel: pair.shallower + 1, mapping: pair.mapping }] : [],
      depthAligned: pair.depthAligned ? [{ input: pair.depthAligned.input, model: pair.depthAligned.model }] : [],
      layers: pair.layers.map((l) => ({ ...l, model: pair.n0 + 1 })),
      n0: pair.n0 + 1,
      n1: pair.n1 + 1,
      anchor: null,
      repairFrom: { ...pair.balanced, weightN1: pair.weightN1 },
    };
  }
  const many = await fuseMany(
    models.map((m) => m.model),
    options,
    hooks,
  );
  const result: FusedModels = {
    fused: many.fused,
    namingFrom: many.anchor,
    roles: [{ input: many.anchor, role: 'anchor' }],
    groups: [],
    mappings: [],
    depthAligned: [],
    layers: [],
    n0: null,
    n1: null,
    anchor: many.anchor + 1,
    repairFrom: [
      { model: models[many.anchor].model, transports: [], weight: many.weights[many.anchor] },
      ...many.members.map((m) => ({ model: m.balanced.model, transports: m.balanced.transports, weight: many.weights[m.input] })),
    ],
  };
  for (const member of many.members) {
    result.groups.push(
      ...member.alignment.map((g) => ({ ...g, name: `model ${member.input + 1}: ${g.name}`, rowsModel: many.anchor + 1, colsModel: member.input + 1 })),
    );
    if (member.mapping) result.mappings.push({ rowsModel: many.anchor + 1, colsModel: member.input + 1, mapping: member.mapping });
    if (member.depthAligned) result.depthAligned.push({ input: member.input, model: member.depthAligned });
    result.layers.push(...member.layers.map((l) => ({ ...l, model: member.input + 1 })));
  }
  return result;
}

/** The engine's hooks: taps recorded on the calibration rows (their count goes with them), stages timed and reported as progress. */
function fusionHooks(
  calibration: Tensor32,
  options: FusionOptions,
  timer: StageTimer<string>,
  ctx: RunContext,
): FusionHooks & { close(): Promise<void>; recording(): RecordingRuntime | null } {
  const recordTaps = createTapRecorder(calibration, options.activations, {
    threads: ctx.threads,
    // By default a GPU backend keeps recording on tfjs: onnxruntime-node here is its CPU build.
    runtime: ctx.recordRuntime ?? (ctx.backend.startsWith('node-gpu') ? 'tfjs' : undefined),
    onFallback: (reason) =>
      ctx.onProgress?.({ stage: 'activations', fraction: 0, message: `onnxruntime-node cannot be loaded (${reason}): recording on tfjs` }),
  });
  return {
    close: () => recordTaps.close(),
    recording: () => recordTaps.used,
    rows: calibration.shape[0],
    record: async (model, role) => {
      ctx.onProgress?.({ stage: 'activations', fraction: 0, message: `recording ${role}` });
      return recordTaps(model);
    },
    release: (model) => recordTaps.forget(model),
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
}

/** Accuracies of the inputs, the fused model (and its earlier versions), the prediction ensemble and the depth-aligned models. */
function evaluate(
  data: LabeledData,
  models: FusionRequestModel[],
  fused: FusedModels,
  renormalized: Renormalization,
  weights: number[],
  timer: StageTimer<string>,
  ctx: RunContext,
): NonNullable<FusionReport['accuracy']> {
  timer.start('evaluation');
  ctx.onProgress?.({ stage: 'evaluation', fraction: 0, message: 'evaluating' });
  const modelAcc = models.map((m) => accuracy(m.model, data));
  const earlier = renormalized.earlierAccuracies(data);
  const report = {
    models: modelAcc,
    // With REPAIR, `fused` is the model before it (what the official code's fusion gives) and `repaired` the written one.
    fused: earlier.fusedBeforeRepair ?? accuracy(renormalized.model, data),
    ...(earlier.fusedBeforeRepair !== undefined ? { repaired: accuracy(renormalized.model, data) } : {}),
    ...earlier,
    ensemble: predictionEnsemble(
      models.map((m) => m.model),
      weights,
      data,
    ).accuracy,
    depthAligned: fused.depthAligned.map((d) => accuracy(d.model, data)),
    depthAlignedInputs: fused.depthAligned.map((d) => d.input + 1),
    samples: data.x.shape[0],
  };
  timer.end('evaluation');
  ctx.onProgress?.({ stage: 'evaluation', fraction: 1, message: 'evaluated' });
  return report;
}

/** Finetuning or distillation of the fused model, when the request asks for one. */
async function train(request: FusionRequest, model: Model, depthAligned: FusedModels['depthAligned'], ctx: RunContext) {
  const inputs = request.models.map((m) => m.model);
  const stepContext = { now: ctx.now, onTraining: ctx.onTraining, signal: ctx.signal, seed: request.options.seed };
  if (request.finetune) return finetuneFusion(request.finetune, { fused: model, inputs, depthAligned }, request.evaluation, stepContext);
  if (request.distill) return distillFusion(request.distill, { fused: model, inputs }, request.evaluation, stepContext);
  return undefined;
}

export async function runFusion(request: FusionRequest, ctx: RunContext): Promise<FusionOutcome> {
  checkRequest(request);
  const { models, options } = request;
  const calibrationRows = request.calibration.shape[0];
  const samples = resolveSamples(request.samples, calibrationRows);
  const calibration = firstRows(request.calibration, samples);

  const timer = new StageTimer<ReportStage | 'evaluation' | 'normalization'>(ctx.now);
  const t0 = ctx.now();
  const hooks = fusionHooks(calibration, options, timer as StageTimer<string>, ctx);
  const weights = normalizeWeights(options.weights, models.length);
  const fused = await fuseModels(models, options, hooks).finally(() => hooks.close());

  // BatchNorm re-estimation and REPAIR, keeping the earlier versions to report their accuracy.
  const renormalized: Renormalization = renormalize(fused.fused, fused.repairFrom, calibration, options, timer);
  const accuracyReport = request.evaluation ? evaluate(request.evaluation, models, fused, renormalized, weights, timer as StageTimer<string>, ctx) : null;
  const trained = await train(request, renormalized.model, fused.depthAligned, ctx);
  if (trained && accuracyReport && trained.accuracy) accuracyReport.finetuned = trained.accuracy;
  const total = (ctx.now() - t0) / 1000;

  const final = trained ? trained.fused : renormalized.model;
  const report = buildReport({ request, ctx, samples, calibrationRows, fused, weights, renormalized, final, accuracy: accuracyReport, timer, trained, total });
  const recording = hooks.recording();
  if (recording) report.recording = recording;
  const outcome: FusionOutcome = {
    fused: final,
    namingFrom: fused.namingFrom,
    depthAligned: fused.depthAligned,
    report,
    ...(renormalized.unrepaired ? { unrepaired: renormalized.unrepaired } : {}),
  };
  if (!trained) return outcome;
  report.training = trained.training;
  return { ...outcome, unfinetuned: renormalized.model, finetuned: trained.others };
}

/** report.json: the request, what fusion did, the accuracies and timings (fields stable: add, never rename). */
function buildReport(r: {
  request: FusionRequest;
  ctx: RunContext;
  samples: number;
  calibrationRows: number;
  fused: FusedModels;
  weights: number[];
  renormalized: Renormalization;
  final: Model;
  accuracy: FusionReport['accuracy'];
  timer: StageTimer<ReportStage | 'evaluation' | 'normalization'>;
  trained: Awaited<ReturnType<typeof train>>;
  total: number;
}): FusionReport {
  const { options, models } = r.request;
  const { fused, renormalized, trained } = r;
  const inputs: ReportInput[] = models.map((m, i) => ({
    index: i + 1,
    label: m.label,
    sha256: m.sha256 ?? null,
    arch: m.model.arch,
    role: fused.roles.find((x) => x.input === i)?.role ?? 'member',
  }));
  return {
    schema: 'clafusion.report/v1',
    engine: { name: 'clafusion', version: ENGINE_VERSION },
    backend: r.ctx.backend,
    seed: options.seed,
    options,
    inputs,
    calibration: { samples: r.samples, available: r.calibrationRows },
    alignment: { groups: fused.groups, mappings: fused.mappings },
    balance: {
      method: options.balance,
      depthAligned: fused.depthAligned.map((d) => ({ input: d.input + 1, arch: d.model.arch })),
    },
    fusion: { method: options.fusion, n0: fused.n0, n1: fused.n1, anchor: fused.anchor, weights: r.weights, layers: fused.layers, normalization: renormalized.steps },
    fused: {
      arch: r.final.arch,
      sha256: null,
      parameters: paramSpecs(r.final.arch).reduce((s, p) => s + numel(p.shape), 0),
    },
    accuracy: r.accuracy,
    timings: {
      ...r.timer.seconds([...REPORT_STAGES, 'evaluation']),
      ...(renormalized.steps.length > 0 ? r.timer.seconds(['normalization']) : {}),
      ...(trained ? { [trained.training.kind]: trained.seconds } : {}),
      total: Math.round(r.total * 1e6) / 1e6,
    },
  };
}
