/**
 * runInThread's warm threads: a thread that finished a job cleanly runs the
 * next one (and gives the same bytes a fresh thread would); an aborted or
 * failed job's thread is ended and replaced, so the next job runs normally.
 */
import { afterAll, describe, expect, it } from 'vitest';
import type { FusionSpec } from '@clafusion/contract';
import { ARCH_A, ARCH_B, datasetBytes, modelBytes } from '../../../test/support/fixtures.ts';
import { isFusionError } from '@clafusion/model-format/errors';
import { FusionAborted, fusionThreadStats, reserveFusionThreads, runInThread } from './run-in-thread.ts';
import type { ThreadInput } from './thread-protocol.ts';

const spec = { models: ['file_a', 'file_b'], calibration: { file: 'file_c' } } as unknown as FusionSpec;

function input(modelA = modelBytes(ARCH_A, 1)): ThreadInput {
  return {
    models: [
      { bytes: modelA, label: 'a.safetensors', arch: null },
      { bytes: modelBytes(ARCH_B, 2), label: 'b.safetensors', arch: null },
    ],
    calibration: { bytes: datasetBytes(40, 3, false), label: 'calibration.safetensors' },
    evaluation: null,
    train: null,
    samples: null,
    spec,
  };
}

const run = (i: ThreadInput, signal = new AbortController().signal) => runInThread(i, () => {}, signal);

describe('runInThread', () => {
  const release = reserveFusionThreads(1);
  afterAll(() => release());

  it('keeps a reserved thread warm and runs job after job in it, with the same results', async () => {
    const before = fusionThreadStats().started;
    const first = await run(input());
    const second = await run(input());
    const third = await run(input());
    expect(first.fused.length).toBeGreaterThan(0);
    expect(Buffer.from(second.fused).equals(Buffer.from(first.fused))).toBe(true);
    expect(Buffer.from(third.fused).equals(Buffer.from(first.fused))).toBe(true);
    expect(third.report.fused.sha256).toBe(first.report.fused.sha256);
    expect(fusionThreadStats()).toMatchObject({ started: before, idle: 1, busy: 0 });
  });

  it('replaces the thread of a failed job; the next job runs normally', async () => {
    const before = fusionThreadStats().started;
    const error = await run(input(new Uint8Array([1, 2, 3, 4, 5, 6, 7, 8, 9]))).catch((e: unknown) => e);
    expect(isFusionError(error)).toBe(true);
    expect(fusionThreadStats().started).toBe(before + 1);
    const next = await run(input());
    expect(next.fused.length).toBeGreaterThan(0);
    expect(fusionThreadStats()).toMatchObject({ started: before + 1, idle: 1, busy: 0 });
  });

  it('stops an aborted job at once and replaces its thread; the next job runs normally', async () => {
    const before = fusionThreadStats().started;
    const abort = new AbortController();
    const running = run(input(), abort.signal);
    abort.abort();
    await expect(running).rejects.toBeInstanceOf(FusionAborted);
    expect(fusionThreadStats().started).toBe(before + 1);
    await expect(run(input(), abort.signal)).rejects.toBeInstanceOf(FusionAborted);
    const next = await run(input());
    expect(next.fused.length).toBeGreaterThan(0);
    expect(fusionThreadStats()).toMatchObject({ started: before + 1, idle: 1, busy: 0 });
  });

  it('refuses an input that cannot be sent to a thread without keeping the thread busy', async () => {
    const bad = { ...input(), spec: { ...spec, hook: () => 1 } as unknown as FusionSpec };
    await expect(run(bad)).rejects.toThrow();
    expect(fusionThreadStats()).toMatchObject({ idle: 1, busy: 0 });
    expect((await run(input())).fused.length).toBeGreaterThan(0);
  });

  it('runs beyond its reservation in a thread of its own, ended after the job', async () => {
    const [a, b] = await Promise.all([run(input()), run(input())]);
    expect(Buffer.from(a.fused).equals(Buffer.from(b.fused))).toBe(true);
    expect(fusionThreadStats()).toMatchObject({ idle: 1, busy: 0 });
  });

  it('ends idle threads when the reservation is released', () => {
    const extra = reserveFusionThreads(1);
    expect(fusionThreadStats()).toMatchObject({ idle: 2, reserved: 2 });
    extra();
    extra();
    expect(fusionThreadStats()).toMatchObject({ idle: 1, reserved: 1 });
  });
});
