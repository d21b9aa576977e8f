/**
 * Training kernels for tfjs's wasm backend.
 *
 * tfjs-backend-wasm 4.22 ships the forward kernels of a convnet but not all of their gradients, so
 * `model.fit` / `tf.grads` on a conv net throws `Kernel 'Conv2DBackpropFilter' not registered for
 * backend 'wasm'`. `registerWasmTrainingKernels()` adds the missing ones and, by default, replaces
 * two stock gradient kernels that exist but are scalar loops slow enough to dominate a training
 * step (see conv2d-backprop-input.ts and max-pool-grad.ts for the measurements).
 */
import * as tf from '@tensorflow/tfjs';
import { conv2DBackpropFilter } from './conv2d-backprop-filter.ts';
import { conv2DBackpropInput } from './conv2d-backprop-input.ts';
import { depthwiseConv2dNativeBackpropFilter, depthwiseConv2dNativeBackpropInput } from './depthwise-backprop.ts';
import { maxPoolGrad } from './max-pool-grad.ts';
import { unsortedSegmentSum } from './unsorted-segment-sum.ts';

/** Kernels wasm lacks that this module provides. */
export const ADDED_WASM_KERNELS = [
  'Conv2DBackpropFilter',
  'DepthwiseConv2dNativeBackpropFilter',
  'DepthwiseConv2dNativeBackpropInput',
  'UnsortedSegmentSum',
] as const;

/** Stock wasm kernels this module replaces with faster ones unless told not to. */
export const REPLACED_WASM_KERNELS = ['Conv2DBackpropInput', 'MaxPoolGrad'] as const;

type KernelName = (typeof ADDED_WASM_KERNELS)[number] | (typeof REPLACED_WASM_KERNELS)[number];

const implementations: Record<KernelName, tf.KernelFunc> = {
  Conv2DBackpropFilter: conv2DBackpropFilter as unknown as tf.KernelFunc,
  DepthwiseConv2dNativeBackpropFilter: depthwiseConv2dNativeBackpropFilter as unknown as tf.KernelFunc,
  DepthwiseConv2dNativeBackpropInput: depthwiseConv2dNativeBackpropInput as unknown as tf.KernelFunc,
  UnsortedSegmentSum: unsortedSegmentSum as unknown as tf.KernelFunc,
  Conv2DBackpropInput: conv2DBackpropInput as unknown as tf.KernelFunc,
  MaxPoolGrad: maxPoolGrad as unknown as tf.KernelFunc,
};

export interface RegisterOptions {
  /** Also replace the stock Conv2DBackpropInput and MaxPoolGrad (default true). Set false to
   * measure or test against the stock kernels. */
  replaceSlowKernels?: boolean;
}

function install(name: KernelName): void {
  const kernelFunc = implementations[name];
  const current = tf.getKernel(name, 'wasm');
  if (current?.kernelFunc === kernelFunc) return;
  // registerKernel only warns on a duplicate; unregistering first replaces quietly whatever is
  // there (the stock kernel, or an ad-hoc shim registered elsewhere).
  if (current !== undefined) tf.unregisterKernel(name, 'wasm');
  tf.registerKernel({ kernelName: name, backendName: 'wasm', kernelFunc });
}

/**
 * Registers the training kernels for the 'wasm' backend. Idempotent, and safe to call before or
 * after `tf.setBackend('wasm')`: tfjs looks kernels up at dispatch time.
 */
export function registerWasmTrainingKernels(options: RegisterOptions = {}): void {
  for (const name of ADDED_WASM_KERNELS) install(name);
  if (options.replaceSlowKernels ?? true) {
    for (const name of REPLACED_WASM_KERNELS) install(name);
  }
}
