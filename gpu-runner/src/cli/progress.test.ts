import { PassThrough } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { createProgress } from './progress.ts';

/** A stream that records writes and claims to be (or not to be) a terminal. */
function fakeStream(tty: boolean, columns = 80) {
  const stream = new PassThrough() as unknown as NodeJS.WriteStream & { output: string };
  let output = '';
  (stream as unknown as PassThrough).on('data', (d) => (output += d));
  Object.assign(stream, { isTTY: tty, columns });
  return { stream, output: () => output };
}

/** The progress events of a two-model fusion with --eval, as run-fusion emits them, then a short training run. */
function replayFusion(update: (stage: string, fraction: number, message: string) => void) {
  update('activations', 0, 'activations');
  update('activations', 0, 'recording deeper');
  update('activations', 0, 'recording shallower');
  update('activations', 1, 'activations');
  for (const stage of ['cost', 'alignment', 'balance']) {
    update(stage, 0, stage);
    update(stage, 1, stage);
  }
  update('activations', 0, 'activations');
  update('activations', 0, 'recording N0');
  update('activations', 0, 'recording N1');
  update('activations', 1, 'activations');
  update('fusion', 0, 'fusion');
  for (let l = 0; l < 16; l++) update('fusion', (l + 1) / 16, `layer${l + 1}.weight`);
  update('evaluation', 0, 'evaluating');
  update('evaluation', 1, 'evaluated');
  for (let epoch = 1; epoch <= 2; epoch++) {
    for (let b = 1; b <= 125; b++) update(`epoch ${epoch}/2`, b / 125, `loss ${(1 / (epoch * b)).toFixed(4)}`);
  }
}

describe('CLI progress', () => {
  it('on a terminal, redraws one bar in place, clipped to the width, and clears it when done', () => {
    const { stream, output } = fakeStream(true, 60);
    const progress = createProgress(stream);
    progress.update('fusion', 0.5, 'fc3.weight');
    progress.update('fusion', 0.5, 'fc3.weight');
    progress.update('fusion', 1, 'fc6.weight');
    progress.done();
    const out = output();
    expect(out).not.toContain('\n');
    const frames = out.split('\r\x1b[2K').filter(Boolean);
    expect(frames).toHaveLength(2); // the repeated update is not redrawn
    expect(frames[0]).toMatch(/^fusion\s+█{12}░{12}\s+50% fc3\.weight$/);
    expect(frames[1]).toMatch(/100% fc6\.weight$/);
    for (const f of frames) expect(f.length).toBeLessThanOrEqual(59);
    expect(out.endsWith('\r\x1b[2K')).toBe(true);
  });

  it('on a terminal, shows every per-model, per-layer and per-batch step', () => {
    const { stream, output } = fakeStream(true, 100);
    const progress = createProgress(stream);
    replayFusion((s, f, m) => progress.update(s, f, m));
    const frames = output().split('\r\x1b[2K').filter(Boolean);
    expect(frames.some((f) => f.includes('recording shallower'))).toBe(true);
    expect(frames.filter((f) => f.startsWith('fusion')).length).toBeGreaterThanOrEqual(16);
    expect(frames.filter((f) => f.startsWith('epoch 2/2')).length).toBeGreaterThan(100);
  });

  it('in a log, writes one readable line per stage change, 10% step or announced sub-step', () => {
    const { stream, output } = fakeStream(false);
    const progress = createProgress(stream);
    replayFusion((s, f, m) => progress.update(s, f, m));
    progress.done();
    const lines = output().trimEnd().split('\n');
    for (const line of lines) expect(line).toMatch(/^\[[a-z0-9 /]+\] \d{1,3}% \S/);
    expect(output()).not.toMatch(/[\r\x1b]/);
    // Both models' recordings are announced, though neither advances the fraction.
    expect(lines).toContain('[activations] 0% recording deeper');
    expect(lines).toContain('[activations] 0% recording shallower');
    expect(lines).toContain('[activations] 0% recording N1');
    // 16 layers fold into 10% steps: 0% and one line per decile reached.
    const fusion = lines.filter((l) => l.startsWith('[fusion]'));
    expect(fusion.length).toBeLessThanOrEqual(11);
    expect(fusion.at(-1)).toBe('[fusion] 100% layer16.weight');
    // 125 batches per epoch: at most one line per 10%.
    for (const epoch of ['epoch 1/2', 'epoch 2/2']) {
      const ofEpoch = lines.filter((l) => l.startsWith(`[${epoch}]`));
      expect(ofEpoch.length).toBeGreaterThanOrEqual(10);
      expect(ofEpoch.length).toBeLessThanOrEqual(11);
    }
    expect(lines.length).toBeLessThan(60);
  });

  it('is silent when disabled (--quiet)', () => {
    const { stream, output } = fakeStream(false);
    const progress = createProgress(stream, false);
    replayFusion((s, f, m) => progress.update(s, f, m));
    progress.done();
    expect(output()).toBe('');
  });
});
