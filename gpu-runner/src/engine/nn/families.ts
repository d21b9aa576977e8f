/**
 * Per-family network definitions, and the one place that dispatches on
 * `arch.family`.
 *
 * forward, train and evaluate are written once against `FamilyNet`. The
 * mapped type makes a net mandatory for every family: once `Arch` gains a
 * family, this file stops compiling until the family has one.
 */
import type * as tf from '@tensorflow/tfjs';
import type { Arch, Family } from '@clafusion/model-format/arch';
import type { RunningStatUpdate } from './batchnorm.ts';
import { mlpNet } from './mlp.ts';
import type { ReplicaExchange } from './replica-exchange.ts';
import { resnetNet } from './resnet.ts';
import { vggNet } from './vgg.ts';

export type { RunningStatUpdate } from './batchnorm.ts';

export interface ApplyOptions {
  /** Record taps (see NetOutput.taps). */
  record?: boolean;
  /**
   * PyTorch's train() mode: BatchNorm normalises with batch statistics and
   * reports updated running statistics. Default false (eval mode: running
   * statistics). Nets without BatchNorm behave the same in both modes.
   */
  training?: boolean;
  /**
   * Training mode on one shard of a batch split across replicas: BatchNorm
   * combines its statistics with the other replicas' (replica-exchange.ts).
   */
  exchange?: ReplicaExchange;
  /**
   * Called with every layer's own output as it is computed (see LayerAdjust);
   * what it returns is what the rest of the network sees and records.
   */
  adjust?: LayerAdjust;
}

/**
 * A layer's own output, before its ReLU and before any residual addition:
 * after bias and BatchNorm; for a ResNet conv2 its branch (not the block
 * sum), for a shortcut conv the shortcut's value; for the classifier the
 * logits. NHWC ([batch, H, W, C]) for a conv, [batch, C] for a linear layer:
 * channels are always the last axis. `layer` is the layerSpecs index.
 * REPAIR (engine/fusion/repair.ts) measures and corrects every layer in one
 * pass through this hook.
 */
export type LayerAdjust = (layer: number, own: tf.Tensor) => tf.Tensor;

/** What one batch through the network produces. */
export interface NetOutput {
  /** [batch, classes]: the classifier's output before any softmax. */
  logits: tf.Tensor2D;
  /**
   * One entry per weight tensor, in parameter order, when recording was
   * asked for: the value docs/algorithm.md §2.2 records with `--prelu-acts` (the
   * value fed to the layer's ReLU — after bias and BatchNorm; for a ResNet
   * conv2 the pre-ReLU block sum; the logits for the classifier), each
   * flattened to [batch, features] in C,H,W order.
   */
  taps: tf.Tensor2D[];
  /**
   * Training mode only: the new value of every BatchNorm running statistic
   * (index into the parameter list); empty otherwise.
   */
  runningStats: RunningStatUpdate[];
}

export interface FamilyNet<A extends Arch = Arch> {
  /**
   * Runs a batch `x` of shape [batch, inputSize] (already flattened in C,H,W
   * order) through the network with `params`, the parameter tensors in
   * canonical (paramSpecs) order. Differentiable with respect to `params`.
   */
  apply(arch: A, params: readonly tf.Tensor[], x: tf.Tensor2D, options: ApplyOptions): NetOutput;
  /**
   * The network's returned value as the official code defines it, which is
   * what the prediction ensemble averages (§9): log-softmax for the MLP,
   * raw logits for the CNN families.
   */
  output(arch: A, logits: tf.Tensor2D): tf.Tensor2D;
}

type FamilyTable = { [F in Family]: FamilyNet<Extract<Arch, { family: F }>> };

const FAMILIES: FamilyTable = {
  mlp: mlpNet,
  vgg: vggNet,
  resnet: resnetNet,
};

export function familyNet(arch: Arch): FamilyNet {
  return FAMILIES[arch.family] as FamilyNet;
}
