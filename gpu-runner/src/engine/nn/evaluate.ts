/**
 * Accuracy of a model, and the prediction-ensemble baseline (docs/algorithm.md §9).
 */
import { type Model, validateParams } from '@clafusion/model-format/arch';
import { FusionError } from '@clafusion/model-format/errors';
import { numel } from '@clafusion/model-format/tensor';
import { type LabeledData, argmaxRows, checkLabels, fractionCorrect, inputLayout } from './data.ts';
import { forward, modelOutput } from './forward.ts';

export interface EvalOptions {
  batchSize?: number;
}

/** Fraction of `data` that `model` classifies correctly (argmax of the logits). */
export function accuracy(model: Model, data: LabeledData, options: EvalOptions = {}): number {
  const { n } = inputLayout(model.arch, data.x);
  checkLabels(data.y, n, model.arch.classes);
  const { logits } = forward(model, data.x, { batchSize: options.batchSize });
  return fractionCorrect(argmaxRows(logits, model.arch.classes), data.y);
}

export interface EnsembleResult {
  accuracy: number;
  /** The ensemble's predicted class per sample. */
  predictions: Int32Array;
  /** [N, classes] weighted sum of the models' outputs the argmax was taken of. */
  scores: Float32Array;
}

/**
 * The prediction ensemble: Σ_k w_k · output_k(x), then argmax. output_k is
 * each model's raw returned value (FamilyNet.output): log-softmax for MLPs,
 * so MLPs average log-probabilities as the official code does, and logits
 * for CNNs. `weights` defaults to 1/K each; the paper's `--prediction-wts`
 * uses (1 − s_e, s_e). Sums are rounded to float32 after every term, like a
 * float32 tensor sum, so near-ties resolve as they would in PyTorch.
 *
 * The models may differ in depth and width but must share input size and
 * class count.
 */
export function predictionEnsemble(
  models: readonly Model[],
  weights: readonly number[] | undefined,
  data: LabeledData,
  options: EvalOptions = {},
): EnsembleResult {
  if (models.length === 0) throw new FusionError('INVALID_ARGUMENT', 'the ensemble needs at least one model');
  const w = weights ?? models.map(() => 1 / models.length);
  if (w.length !== models.length || !w.every(Number.isFinite)) {
    throw new FusionError('INVALID_ARGUMENT', `need one finite weight per model (${models.length}), got [${w.join(', ')}]`, {
      field: 'weights',
    });
  }
  const { arch } = models[0];
  models.forEach((m, k) => {
    validateParams(m.arch, m.params);
    if (m.arch.classes !== arch.classes || numel(m.arch.input) !== numel(arch.input)) {
      throw new FusionError(
        'INCOMPATIBLE_MODELS',
        `model ${k} maps ${numel(m.arch.input)} inputs to ${m.arch.classes} classes, model 0 maps ` +
          `${numel(arch.input)} to ${arch.classes}`,
        { model: k },
      );
    }
  });
  const { n } = inputLayout(arch, data.x);
  checkLabels(data.y, n, arch.classes);

  const scores = new Float32Array(n * arch.classes);
  models.forEach((m, k) => {
    const out = modelOutput(m, data.x, { batchSize: options.batchSize });
    const wk = Math.fround(w[k]);
    for (let i = 0; i < scores.length; i++) scores[i] += Math.fround(wk * out[i]);
  });
  const predictions = argmaxRows(scores, arch.classes);
  return { accuracy: fractionCorrect(predictions, data.y), predictions, scores };
}
