/**
 * Per-family network definitions, and the one place that dispatches on
 * `arch.family`.
 *
 * forward, train and evaluate are written once against `FamilyNet`; adding
 * VGG or ResNet means writing a sibling of mlp.ts and adding it to
 * `FAMILIES`. The mapped type makes that addition mandatory: once `Arch`
 * gains a family, this file stops compiling until the family has a net.
 */
import type * as tf from '@tensorflow/tfjs';
import type { Arch, Family } from '../arch.ts';
import { mlpNet } from './mlp.ts';
import { FusionError } from '../errors.ts';

/** What one batch through the network produces. */
export interface NetOutput {
  /** [batch, classes]: the classifier's output before any softmax. */
  logits: tf.Tensor2D;
  /**
   * One entry per weight tensor, in parameter order, when recording was
   * asked for: the value algorithm.md §2.2 records with `--prelu-acts`
   * (the module output before its ReLU; the logits for the classifier),
   * each flattened to [batch, features] in C,H,W order.
   */
  taps: tf.Tensor2D[];
}

export interface FamilyNet<A extends Arch = Arch> {
  /**
   * Runs a batch `x` of shape [batch, inputSize] (already flattened in C,H,W
   * order) through the network with `params`, the parameter tensors in
   * canonical (paramSpecs) order. Differentiable with respect to `params`.
   */
  apply(arch: A, params: readonly tf.Tensor[], x: tf.Tensor2D, record: boolean): NetOutput;
  /**
   * The network's returned value as the official code defines it, which is
   * what the prediction ensemble averages (§9): log-softmax for the MLP,
   * raw logits for the CNN families.
   */
  output(arch: A, logits: tf.Tensor2D): tf.Tensor2D;
}

type FamilyTable = { [F in Family]?: FamilyNet<Extract<Arch, { family: F }>> };

const FAMILIES: FamilyTable = {
  mlp: mlpNet,
};

export function familyNet(arch: Arch): FamilyNet {
  const net = FAMILIES[arch.family];
  if (net === undefined) {
    throw new FusionError('UNSUPPORTED', `forward passes for the ${arch.family} family are not available in this build`, { field: 'arch.family' });
  }
  return net as FamilyNet;
}
