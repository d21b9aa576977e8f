/**
 * Training kernels for tfjs's wasm backend.
 *
 * tfjs-backend-wasm 4.22 ships the forward kernels of a convnet but not all of their gradients, so
 * `model.fit` / `tf.grads` on a conv net throws `Kernel 'Conv2DBackpropFilter' not registered for
 * backend 'wasm'`. `registerWasmTrainingKernels()` adds the missing ones and, by default, replaces
 * two stock gradient kernels that exist but are scalar loops slow enough to dominate a training
 * step (see conv2d-backprop-input.ts and max-pool-grad.ts for the measurements), and wraps seven
 * stock kernels with faster paths for the shapes training produces (wrapped-kernels.ts, and
 * conv2d-forward.ts: Winograd for a training step's 3×3 convolutions).
 */
import * as tf from '@tensorflow/tfjs';
import { conv2DBackpropFilter } from './conv2d-backprop-filter.ts';
import { conv2DBackpropInput } from './conv2d-backprop-input.ts';
import { conv2D, fusedConv2D } from './conv2d-forward.ts';
import { depthwiseConv2dNativeBackpropFilter, depthwiseConv2dNativeBackpropInput } from './depthwise-backprop.ts';
import { maxPoolGrad } from './max-pool-grad.ts';
import { unsortedSegmentSum } from './unsorted-segment-sum.ts';
import { rememberStock } from './wasm-backend.ts';
import { add, batchMatMul, cast, identity, sum } from './wrapped-kernels.ts';

/** Kernels wasm lacks that this module provides. */
export const ADDED_WASM_KERNELS = [
  'Conv2DBackpropFilter',
  'DepthwiseConv2dNativeBackpropFilter',
  'DepthwiseConv2dNativeBackpropInput',
  'UnsortedSegmentSum',
] as const;

/** Stock wasm kernels this module replaces with faster ones unless told not to. */
export const REPLACED_WASM_KERNELS = ['Conv2DBackpropInput', 'MaxPoolGrad'] as const;

/** Stock wasm kernels this module wraps (fast paths, stock kernel for the rest) unless told not to. */
export const WRAPPED_WASM_KERNELS = ['Conv2D', 'FusedConv2D', 'BatchMatMul', 'Sum', 'Add', 'Identity', 'Cast'] as const;

type KernelName = (typeof ADDED_WASM_KERNELS)[number] | (typeof REPLACED_WASM_KERNELS)[number] | (typeof WRAPPED_WASM_KERNELS)[number];

const implementations: Record<KernelName, tf.KernelFunc> = {
  Conv2DBackpropFilter: conv2DBackpropFilter as unknown as tf.KernelFunc,
  DepthwiseConv2dNativeBackpropFilter: depthwiseConv2dNativeBackpropFilter as unknown as tf.KernelFunc,
  DepthwiseConv2dNativeBackpropInput: depthwiseConv2dNativeBackpropInput as unknown as tf.KernelFunc,
  UnsortedSegmentSum: unsortedSegmentSum as unknown as tf.KernelFunc,
  Conv2DBackpropInput: conv2DBackpropInput as unknown as tf.KernelFunc,
  MaxPoolGrad: maxPoolGrad as unknown as tf.KernelFunc,
  Conv2D: conv2D as unknown as tf.KernelFunc,
  FusedConv2D: fusedConv2D as unknown as tf.KernelFunc,
  BatchMatMul: batchMatMul as unknown as tf.KernelFunc,
  Sum: sum as unknown as tf.KernelFunc,
  Add: add as unknown as tf.KernelFunc,
  Identity: identity as unknown as tf.KernelFunc,
  Cast: cast as unknown as tf.KernelFunc,
};

const ours = new Set<tf.KernelFunc>(Object.values(implementations));

export interface RegisterOptions {
  /** Also replace the stock Conv2DBackpropInput and MaxPoolGrad and wrap Conv2D, FusedConv2D,
   * BatchMatMul, Sum, Add, Identity and Cast (default true). Set false to measure or test against the stock kernels. */
  replaceSlowKernels?: boolean;
}

function install(name: KernelName): void {
  const kernelFunc = implementations[name];
  const current = tf.getKernel(name, 'wasm');
  if (current?.kernelFunc === kernelFunc) return;
  let setup: Pick<tf.KernelConfig, 'setupFunc' | 'disposeFunc'> = {};
  if ((WRAPPED_WASM_KERNELS as readonly string[]).includes(name)) {
    // A wrapper needs the stock kernel behind it; without the wasm backend loaded there is none.
    if (current === undefined) return;
    if (!ours.has(current.kernelFunc)) rememberStock(name, current.kernelFunc);
    // The stock kernel binds its wasm function in setupFunc when the backend initialises; the
    // wrapper's registration must carry it, or a backend set up after this call never runs it.
    setup = { setupFunc: current.setupFunc, disposeFunc: current.disposeFunc };
  }
  // registerKernel only warns on a duplicate; unregistering first replaces quietly whatever is
  // there (the stock kernel, or an ad-hoc shim registered elsewhere).
  if (current !== undefined) tf.unregisterKernel(name, 'wasm');
  tf.registerKernel({ kernelName: name, backendName: 'wasm', kernelFunc, ...setup });
}

/**
 * Registers the training kernels for the 'wasm' backend. Idempotent, and safe to call before or
 * after `tf.setBackend('wasm')`: tfjs looks kernels up at dispatch time.
 */
export function registerWasmTrainingKernels(options: RegisterOptions = {}): void {
  for (const name of ADDED_WASM_KERNELS) install(name);
  if (options.replaceSlowKernels ?? true) {
    for (const name of [...REPLACED_WASM_KERNELS, ...WRAPPED_WASM_KERNELS]) install(name);
  }
}
