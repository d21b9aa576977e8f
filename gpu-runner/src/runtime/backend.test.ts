import * as tf from '@tensorflow/tfjs';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { isFusionError } from '@clafusion/model-format/errors';
import { backendFromEnv, initBackend } from './backend.ts';
import { ADDED_WASM_KERNELS, REPLACED_WASM_KERNELS } from './wasm-kernels/index.ts';

async function expectFusionError(p: Promise<unknown>, code: string, message: RegExp): Promise<void> {
  try {
    await p;
  } catch (e) {
    expect(isFusionError(e)).toBe(true);
    if (isFusionError(e)) {
      expect(e.code).toBe(code);
      expect(e.message).toMatch(message);
    }
    return;
  }
  expect.unreachable('expected a FusionError');
}

describe('initBackend', () => {
  afterEach(() => {
    vi.restoreAllMocks();
  });

  it('CLAFUSION_BACKEND=wasm selects wasm and the engine tfjs runs on it', async () => {
    const b = await initBackend({ env: { CLAFUSION_BACKEND: 'wasm' } });
    expect(b.name).toBe('wasm');
    expect(b.detail).toMatch(/^wasm \(tfjs 4\.22\.0, (no )?SIMD, \d+ threads?\)$/);
    expect(b.skipped).toEqual([]);
    // The namespace the engine imports is the one that was switched.
    expect(tf.getBackend()).toBe('wasm');
    expect(b.tf.getBackend()).toBe('wasm');
    expect(Array.from(tf.tidy(() => tf.add(tf.tensor1d([1, 2]), 1).dataSync()))).toEqual([2, 3]);
  });

  it('registers the wasm training kernels with the wasm backend, so conv nets can be trained', async () => {
    await initBackend({ env: { CLAFUSION_BACKEND: 'wasm' } });
    for (const name of [...ADDED_WASM_KERNELS, ...REPLACED_WASM_KERNELS]) expect(tf.getKernel(name, 'wasm'), name).toBeDefined();
    const grad = tf.tidy(() => {
      const x = tf.ones([1, 4, 4, 1]) as tf.Tensor4D;
      const g = tf.grad((f: tf.Tensor) => tf.sum(tf.conv2d(x, f as tf.Tensor4D, 2, 1)))(tf.ones([3, 3, 1, 1]));
      return Array.from(g.dataSync());
    });
    // Each filter tap sums the inputs it meets over the 2×2 outputs. Along each axis, tap 0 meets
    // the padding and one row, taps 1 and 2 two rows: [1, 2, 2] ⊗ [1, 2, 2].
    expect(grad).toEqual([1, 2, 2, 2, 4, 4, 2, 4, 4]);
  });

  it('CLAFUSION_BACKEND=cpu selects cpu without printing the tfjs banner', async () => {
    const warn = vi.spyOn(console, 'warn');
    const log = vi.spyOn(console, 'log');
    const b = await initBackend({ env: { CLAFUSION_BACKEND: ' cpu ' } });
    expect(b.name).toBe('cpu');
    expect(tf.getBackend()).toBe('cpu');
    tf.tidy(() => tf.scalar(1).add(1).dataSync());
    const printed = [...warn.mock.calls, ...log.mock.calls].flat().join('\n');
    expect(printed).not.toMatch(/Hi, looks like/);
  });

  it('an explicit choice that cannot load is an error, not a fallback (node-gpu is not installed here)', async () => {
    await initBackend({ env: { CLAFUSION_BACKEND: 'cpu' } });
    await expectFusionError(
      initBackend({ env: { CLAFUSION_BACKEND: 'node-gpu' } }),
      'UNSUPPORTED',
      /CLAFUSION_BACKEND=node-gpu was requested but that backend cannot be used: .*tfjs-node-gpu/,
    );
    // The failed request left the previously selected backend in place.
    expect(tf.getBackend()).toBe('cpu');
  });

  it('rejects an unknown CLAFUSION_BACKEND value', async () => {
    await expectFusionError(initBackend({ env: { CLAFUSION_BACKEND: 'gpu' } }), 'INVALID_ARGUMENT', /must be one of/);
    expect(backendFromEnv({})).toBeUndefined();
    expect(backendFromEnv({ CLAFUSION_BACKEND: '' })).toBeUndefined();
    expect(backendFromEnv({ CLAFUSION_BACKEND: 'node' })).toBe('node');
  });

  it('by default resolves to wasm here, recording why node-gpu and node were skipped', async () => {
    const b = await initBackend({ env: {} });
    expect(b.name).toBe('wasm');
    expect(b.skipped.map((s) => s.name)).toEqual(['node-gpu', 'node']);
    for (const s of b.skipped) expect(s.reason).toMatch(/Cannot find (package|module)/);
  });

  it('refuses a node package that brings its own tfjs-core instead of sharing ours', async () => {
    // Simulates a mismatched install: the package loads, but its Tensor class
    // is not the one from the @tensorflow/tfjs the engine imports.
    const importModule = async (s: string) => {
      if (s === '@tensorflow/tfjs-node') return { Tensor: class OtherTensor {}, version: { 'tfjs-node': '4.0.0' } };
      return import(s);
    };
    await expectFusionError(
      initBackend({ env: { CLAFUSION_BACKEND: 'node' }, importModule }),
      'UNSUPPORTED',
      /different copy of @tensorflow\/tfjs-core/,
    );
    const auto = await initBackend({ env: {}, importModule });
    expect(auto.name).toBe('wasm');
    expect(auto.skipped[1]).toMatchObject({ name: 'node', reason: expect.stringMatching(/different copy/) });
  });

  it('selects a node package that registers its backend on the shared tfjs (simulated, CommonJS default export)', async () => {
    // Stand-in for @tensorflow/tfjs-node: importing it registers a
    // 'tensorflow' backend on the same tfjs-core, and the namespace is only
    // reachable under `default`, as Node exposes some CommonJS modules.
    const CpuBackend = tf.findBackend('cpu')!.constructor as new () => tf.KernelBackend;
    const importModule = async (s: string) => {
      if (s !== '@tensorflow/tfjs-node') return import(s);
      tf.registerBackend('tensorflow', () => new CpuBackend());
      return { default: { Tensor: tf.Tensor, version: { 'tfjs-node': '4.22.0', tensorflow: '2.9.1' } } };
    };
    try {
      const b = await initBackend({ env: {}, importModule });
      expect(b.name).toBe('node');
      expect(b.detail).toBe('node (@tensorflow/tfjs-node 4.22.0, TensorFlow 2.9.1)');
      expect(b.skipped.map((s) => s.name)).toEqual(['node-gpu']);
      expect(tf.getBackend()).toBe('tensorflow');
    } finally {
      tf.removeBackend('tensorflow');
      await tf.setBackend('wasm');
    }
  });
});
