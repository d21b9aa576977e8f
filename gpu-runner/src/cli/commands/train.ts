/** `clafusion train`: train a model from an architecture on a dataset. */
import { readFile } from 'node:fs/promises';
import { performance } from 'node:perf_hooks';
import { parseArch } from '@clafusion/model-format/arch';
import { FusionError } from '@clafusion/model-format/errors';
import { initModel } from '../../engine/nn/init.ts';
import { train } from '../../engine/nn/train.ts';
import { officialNaming } from '@clafusion/model-format/naming';
import { initBackend } from '../../runtime/backend.ts';
import { Args, type FlagSpecs, helpText, parseArgs } from '../args.ts';
import { DATA_FLAGS, loadDataArg } from '../data-arg.ts';
import { MODEL_OUTPUT_FLAGS, modelOutputFromArgs, writeModelOutputs } from '../model-output.ts';
import { createProgress } from '../progress.ts';
import type { CommandIo } from '../io.ts';
import { describeArch } from '../summary.ts';
import { presetFromArgs, trainingFlags, trainingSpecFromArgs } from '../training-flags.ts';
import { presetFieldOf } from '@clafusion/contract/options';
import { PRESETS, type TrainingPreset } from '../../engine/nn/presets.ts';
import { cifarAugment } from '../../engine/nn/augment.ts';
import { checkDestinations } from '../destinations.ts';
import { THREADS_FLAG, threadsFromArgs } from '../threads-flag.ts';

/** What `train` uses without --preset: the paper's MLP recipe (§1.1, Table 6). */
const MLP_RECIPE: TrainingPreset = PRESETS['mlp-mnist'];

/** The hyperparameter flags of the training options declaration, worded with the recipe's values (--preset is train's own, above). */
const { preset: _finetunePreset, ...HYPERPARAMETERS } = trainingFlags('finetune', (name) => {
  const field = presetFieldOf(name);
  if (field === null) return undefined;
  const value = MLP_RECIPE[field];
  return `the preset's; ${typeof value === 'boolean' ? (value ? 'on' : 'off') : value} without --preset`;
});

const FLAGS: FlagSpecs = {
  arch: { kind: 'value', placeholder: 'FILE|JSON', description: 'architecture JSON (a file or inline), e.g. {"family":"mlp","input":[784],"hidden":[400,200,100],"classes":10}' },
  data: { kind: 'value', placeholder: 'DATA', description: 'labelled training data (see README: .safetensors, .npy, IDX, mnist:train, fashion-mnist:train)' },
  eval: { kind: 'value', placeholder: 'DATA', description: 'labelled data evaluated after every epoch' },
  out: { kind: 'value', placeholder: 'FILE', description: 'where to write the trained model (.safetensors, or .pt/.pth for a PyTorch state dict)' },
  ...MODEL_OUTPUT_FLAGS,
  preset: {
    kind: 'value',
    placeholder: 'NAME',
    description: `hyperparameters from the paper (${Object.keys(PRESETS).join('|')}); the flags below override it. With an eval set and a preset that reports the best epoch, that epoch is written`,
  },
  ...HYPERPARAMETERS,
  seed: { kind: 'value', placeholder: 'N', description: 'seed for initialisation, shuffling and augmentation (default 0)' },
  limit: { kind: 'value', placeholder: 'N', description: 'use only the first N training samples' },
  ...THREADS_FLAG,
  ...DATA_FLAGS,
  quiet: { kind: 'switch', description: 'print nothing but errors' },
  help: { kind: 'switch', description: 'show this help' },
};

const USAGE = 'usage: clafusion train --arch ARCH.json --data DATA --out M.safetensors [--preset NAME] [--epochs N --lr LR --momentum M --batch N --augment on|off --seed N --threads N]';

export async function readArchArg(value: string): Promise<unknown> {
  const text = value.trim().startsWith('{') ? value : await readFile(value, 'utf8');
  try {
    return JSON.parse(text);
  } catch (e) {
    throw new FusionError('INVALID_ARCH', `--arch is not valid JSON: ${(e as Error).message}`, { field: 'arch' });
  }
}

export async function trainCommand(argv: readonly string[], io: CommandIo): Promise<number> {
  const args = new Args(parseArgs(argv, FLAGS));
  if (args.switch('help')) {
    io.stdout.write(helpText(USAGE, FLAGS));
    return 0;
  }
  const presetName = presetFromArgs(args);
  const threads = threadsFromArgs(args);
  const arch = parseArch(await readArchArg(args.required('arch')));
  const out = args.required('out');
  await checkDestinations(args);
  const modelOutput = modelOutputFromArgs(args, out);
  const dataSpec = args.required('data');
  const given = trainingSpecFromArgs(args, dataSpec);
  const data = await loadDataArg(dataSpec, args, {
    what: 'data',
    labels: true,
    limit: args.optionalInteger('limit', 1) ?? undefined,
  });
  const evalSpec = args.string('eval');
  const evaluation = evalSpec ? await loadDataArg(evalSpec, args, { what: 'eval', labels: true }) : undefined;
  // Without --preset the defaults are the paper's MLP recipe (§1.1).
  const preset: TrainingPreset | undefined = presetName === undefined ? undefined : PRESETS[presetName as keyof typeof PRESETS];
  const recipe = preset ?? MLP_RECIPE;
  const epochs = given.epochs ?? recipe.epochs;
  const seed = args.integer('seed', 0);
  const augment = given.augment ?? recipe.augment;
  const fill = given.augmentFill!;
  const backend = await initBackend();
  // --quiet: nothing but errors, neither progress nor epoch lines nor the summary.
  const quiet = args.switch('quiet');
  const progress = createProgress(io.stderr, !quiet);
  const t0 = performance.now();
  const result = await train(initModel(arch, seed), { x: data.x, y: data.y! }, {
    lr: given.lr ?? recipe.lr,
    momentum: given.momentum ?? recipe.momentum,
    weightDecay: given.weightDecay ?? recipe.weightDecay,
    batchSize: given.batchSize ?? recipe.batchSize,
    epochs,
    seed,
    threads,
    schedule: preset?.schedule,
    augment: augment ? cifarAugment(fill) : undefined,
    eval: evaluation ? { x: evaluation.x, y: evaluation.y! } : undefined,
    onProgress: (p) => progress.update(`epoch ${p.epoch}/${epochs}`, p.batch / p.batches, `loss ${p.loss.toFixed(4)}`),
    onEpoch: (m) => {
      progress.done();
      const evalPart = m.evalAccuracy === undefined ? '' : `  eval acc ${(m.evalAccuracy * 100).toFixed(2)}%`;
      if (!quiet) io.stderr.write(`epoch ${m.epoch}/${epochs}  loss ${m.loss.toFixed(4)}  train acc ${(m.trainAccuracy * 100).toFixed(2)}%${evalPart}\n`);
    },
  });
  progress.done();
  const kept = preset?.report === 'best' && result.best ? result.best : undefined;
  await writeModelOutputs(out, modelOutput, kept?.model ?? result.model, officialNaming(arch.family), {
    'clafusion.train': JSON.stringify({ epochs, seed, samples: data.x.shape[0], ...(presetName ? { preset: presetName } : {}), augment, ...(result.threads > 1 ? { threads: result.threads } : {}) }),
  });
  const last = result.history.at(-1);
  if (quiet) return 0;
  io.stdout.write(
    `Trained ${describeArch(arch)} on ${data.x.shape[0]} samples in ${((performance.now() - t0) / 1000).toFixed(1)}s on ${backend.detail}${result.threads > 1 ? `, ${result.threads} threads` : ''}\n` +
      (last ? `  final loss ${last.loss.toFixed(4)}, train accuracy ${(last.trainAccuracy * 100).toFixed(2)}%` +
        (last.evalAccuracy === undefined ? '' : `, eval accuracy ${(last.evalAccuracy * 100).toFixed(2)}%`) + '\n' : '') +
      (kept ? `  wrote epoch ${kept.epoch} (best eval accuracy ${(kept.evalAccuracy * 100).toFixed(2)}%, as the preset reports)\n` : '') +
      `  → ${out}\n`,
  );
  return 0;
}
