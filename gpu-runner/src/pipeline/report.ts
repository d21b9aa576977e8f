/**
 * The fusion report: what was fused, how the layers were aligned, what came
 * out, how accurate everything is, and how long each stage took. Written as
 * `report.json` by the CLI and the runner; the schema is documented in the
 * README.
 */
import type { Arch } from '@clafusion/model-format/arch';
import type { AlignmentGroup } from '../engine/fusion/align-depths.ts';
import type { LayerSummary } from '../engine/fusion/fuse-pair.ts';
import type { FusionOptions } from '../engine/fusion/options.ts';
import type { NormalizationStep } from './renormalize.ts';
import type { TrainingSettings } from './training-settings.ts';

export const REPORT_STAGES = ['activations', 'cost', 'alignment', 'balance', 'fusion'] as const;
export type ReportStage = (typeof REPORT_STAGES)[number];

export interface ReportInput {
  /** 1-based position on the command line / in the job spec. */
  index: number;
  label: string;
  sha256: string | null;
  arch: Arch;
  /** `deeper`/`shallower` for two models, `anchor`/`member` for K models. */
  role: 'deeper' | 'shallower' | 'equal-depth' | 'anchor' | 'member';
}

export interface ReportAlignmentGroup extends AlignmentGroup {
  /** Which models the rows and columns belong to (1-based input indices). */
  rowsModel: number;
  colsModel: number;
}

/** One epoch of training the fused model (structurally the engine's EpochMetrics). */
export interface ReportTrainingEpoch {
  /** 1-based. */
  epoch: number;
  /** Mean per-sample training loss over the epoch. */
  loss: number;
  trainAccuracy: number;
  /** Accuracy on the eval set after the epoch, when one was given. */
  evalAccuracy?: number;
  /** Learning rate used during the epoch. */
  lr: number;
}

/** Finetuning or distillation of the fused model, when the run did either. */
export interface ReportTraining {
  kind: 'finetune' | 'distill';
  history: ReportTrainingEpoch[];
  /**
   * The 1-based epoch whose weights were kept: the highest eval accuracy when
   * tracked (presets reporting 'best' with an eval set), else the last.
   */
  bestEpoch?: number;
  /** Distillation only: no epoch beat the student as it was, so it was kept unchanged. */
  keptInitial?: boolean;
  /** Eval accuracy before training. */
  before?: number;
  /**
   * The number the paper reports (§10), the eval accuracy of the kept
   * weights: for finetuning the best epoch (`before` is not a candidate),
   * for distillation the maximum of `before` and every epoch.
   */
  reported?: number;
  /** The resolved hyperparameters (preset and overrides). */
  settings?: TrainingSettings;
  /**
   * `fuse --finetune-models all` (the official main.py default): the input
   * models and depth-aligned models, finetuned the same way.
   */
  others?: ReportTrainingOther[];
}

/** One more model finetuned beside the fused one. */
export interface ReportTrainingOther {
  /** 1-based input index; for a depth-aligned model, the input it was made from. */
  input: number;
  model: 'input' | 'depth-aligned';
  history: ReportTrainingEpoch[];
  bestEpoch?: number;
  before?: number;
  reported?: number;
}

/**
 * The fusion-weight sweep (the paper's skill-transfer plot, Figure 4): two
 * models fused at each w, where w is the weight of input model 1 and model 2
 * gets 1 − w. Parallel arrays, one entry per w.
 */
export interface ReportSweep {
  weights: number[];
  /** Fused-model accuracy on the eval set at each w. */
  accuracy: number[];
  /** Prediction-ensemble accuracy with weights (w, 1 − w). */
  ensembleAccuracy?: number[];
  /** With REPAIR: the repaired fused model's accuracy at each w (`accuracy` is before REPAIR). */
  repairedAccuracy?: number[];
}

/** A depth alignment's per-layer mapping: columns model's hidden layer k ↔ rows model's hidden layer mapping[k−1]. */
export interface ReportLayerMapping {
  rowsModel: number;
  colsModel: number;
  mapping: number[];
}

export interface FusionReport {
  schema: 'clafusion.report/v1';
  engine: { name: 'clafusion'; version: string };
  backend: string;
  /**
   * Where the CNN activations were recorded (`onnxruntime` or `tfjs`), with
   * the runtime's version and threads, and `fallback`, the reason, when
   * onnxruntime was the default but could not be loaded. Absent for MLPs
   * (always tfjs, `backend`) and in older reports.
   */
  recording?: { runtime: 'onnxruntime' | 'tfjs'; detail: string; fallback?: string };
  seed: number;
  options: FusionOptions;
  inputs: ReportInput[];
  calibration: { samples: number; available: number };
  alignment: {
    /** One per aligned part: MLP `hidden`; VGG `group k` (and `fc`); ResNet `stage k`, whose units are blocks. */
    groups: ReportAlignmentGroup[];
    /**
     * The per-layer mapping of each depth alignment (spec §4.1: 1-based, over
     * the shallower model's hidden layers, into the deeper model's), all
     * parts concatenated and ResNet blocks expanded. Absent in older reports.
     */
    mappings?: ReportLayerMapping[];
  };
  balance: { method: 'add' | 'merge'; depthAligned: { input: number; arch: Arch }[] };
  fusion: {
    method: FusionOptions['fusion'];
    /** Input indices of N0 (aligned onto) N1, for two models; the anchor for K models. */
    n0: number | null;
    n1: number | null;
    anchor: number | null;
    /** Normalised weights per input model. */
    weights: number[];
    layers: (LayerSummary & { model: number })[];
    /**
     * Post-fusion steps applied to the fused model, in order:
     * `bn-reestimate` (BatchNorm running statistics from the calibration
     * samples) and `repair` (REPAIR renormalisation). Empty when none ran;
     * absent in reports written before these steps existed.
     */
    normalization?: NormalizationStep[];
  };
  fused: { arch: Arch; sha256: string | null; parameters: number };
  accuracy: {
    models: number[];
    /**
     * The fused model after BatchNorm re-estimation (when it ran) and before
     * REPAIR: the fusion the official code computes. With REPAIR the written
     * file is the repaired model, whose accuracy is `repaired`. With
     * finetuning this is the accuracy before it; the written file is the
     * finetuned model (`finetuned.fused`).
     */
    fused: number;
    /** The fused model after REPAIR (`--repair on`), when it ran. */
    repaired?: number;
    /** The fused model before BatchNorm re-estimation (running statistics averaged like biases), when it ran. */
    fusedBeforeBnReestimate?: number;
    /** The fused model before REPAIR (after any re-estimation), when it ran; equal to `fused` (kept for older readers). */
    fusedBeforeRepair?: number;
    ensemble: number;
    /** Accuracy of each depth-aligned model (B′ or A_m), parallel to `depthAlignedInputs`. */
    depthAligned: number[];
    /** 1-based input index each depth-aligned model was made from. */
    depthAlignedInputs: number[];
    /**
     * After finetuning (§10.1), the reported numbers (best epoch): the fused
     * model, and with `--finetune-models all` the inputs (parallel to
     * `models`) and depth-aligned models (parallel to `depthAligned`). After
     * distillation (§10.2, `training.kind` 'distill'), `fused` is the
     * distilled model's reported number (the best of before and every epoch).
     */
    finetuned?: { fused: number; models?: number[]; depthAligned?: number[] };
    samples: number;
  } | null;
  /** Seconds per stage; `normalization` only when a normalization step ran, `finetune` or `distill` only when that training ran. */
  timings: Record<ReportStage | 'evaluation' | 'total', number> & { normalization?: number; finetune?: number; distill?: number };
  /** Present when the fused model was finetuned or distilled after fusion. */
  training?: ReportTraining;
  /** Present when the run swept the fusion weight (`fuse --sweep`). */
  sweep?: ReportSweep;
}
