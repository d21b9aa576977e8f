/** `clafusion finetune`: finetune a model file (typically a fused model) as §10.1 does. */
import { basename } from 'node:path';
import { performance } from 'node:perf_hooks';
import { readModelInput } from '../model-inputs.ts';
import { checkDestinations } from '../destinations.ts';
import { finetuneModel } from '../../pipeline/finetune.ts';
import { initBackend } from '../../runtime/backend.ts';
import { Args, type FlagSpecs, helpText, parseArgs } from '../args.ts';
import { DATA_FLAGS, loadDataArg } from '../data-arg.ts';
import { MODEL_OUTPUT_FLAGS, modelOutputFromArgs } from '../model-output.ts';
import type { CommandIo } from '../io.ts';
import { createProgress } from '../progress.ts';
import { trainingFlags, trainingPrinter, trainingSpecFromArgs } from '../training-flags.ts';
import { THREADS_FLAG, threadsFromArgs } from '../threads-flag.ts';
import { writeTrainingOutputs } from '../training-output.ts';

const FLAGS: FlagSpecs = {
  model: { kind: 'value', placeholder: 'FILE', description: 'the model to finetune (.safetensors), e.g. a fused model' },
  data: { kind: 'value', placeholder: 'DATA', description: 'labelled training data' },
  eval: { kind: 'value', placeholder: 'DATA', description: 'labelled data evaluated before and after every epoch; the best epoch is kept' },
  out: { kind: 'value', placeholder: 'FILE', description: 'where to write the finetuned model (.safetensors, or .pt/.pth for a PyTorch state dict)' },
  ...MODEL_OUTPUT_FLAGS,
  report: { kind: 'value', placeholder: 'FILE', description: 'where to write the JSON report with per-epoch metrics' },
  ...trainingFlags(),
  seed: { kind: 'value', placeholder: 'N', description: 'seed for shuffling and augmentation (default 0)' },
  limit: { kind: 'value', placeholder: 'N', description: 'use only the first N training samples' },
  ...THREADS_FLAG,
  ...DATA_FLAGS,
  quiet: { kind: 'switch', description: 'no progress output' },
  help: { kind: 'switch', description: 'show this help' },
};

const USAGE =
  'usage: clafusion finetune --model M.safetensors --data TRAIN --eval EVAL --out OUT.safetensors [--preset NAME --epochs N --lr LR --momentum M --weight-decay WD --batch N --augment on|off --seed N] [--report R.json]';

export async function finetuneCommand(argv: readonly string[], io: CommandIo): Promise<number> {
  const args = new Args(parseArgs(argv, FLAGS));
  if (args.switch('help')) {
    io.stdout.write(helpText(USAGE, FLAGS));
    return 0;
  }
  const modelPath = args.required('model');
  const dataSpec = args.required('data');
  const out = args.required('out');
  const modelOutput = modelOutputFromArgs(args, out);
  const evalSpec = args.string('eval');
  const spec = { ...trainingSpecFromArgs(args, dataSpec), threads: threadsFromArgs(args) };
  const quiet = args.switch('quiet');
  await checkDestinations(args);

  const file = await readModelInput(modelPath);
  const data = await loadDataArg(dataSpec, args, { what: 'data', labels: true, limit: args.optionalInteger('limit', 1) ?? undefined });
  const evaluation = evalSpec ? await loadDataArg(evalSpec, args, { what: 'eval', labels: true }) : undefined;
  const backend = await initBackend();
  const progress = createProgress(io.stderr, !quiet);
  const printer = trainingPrinter(progress, io.stderr, quiet);
  const t0 = performance.now();
  const outcome = await finetuneModel(file.model, { x: data.x, y: data.y! }, evaluation && { x: evaluation.x, y: evaluation.y! }, spec, {
    onEvent: (e) =>
      e.type === 'batch' ? printer.batch('finetune ', e.epoch, e.epochs, e.batch / e.batches, e.loss) : printer.epoch('', e.metrics, e.epochs),
  });
  progress.done();
  await writeTrainingOutputs(
    outcome,
    {
      out,
      modelOutput,
      reportPath: args.string('report'),
      convention: file.convention,
      report: {
        backend: backend.detail,
        student: { label: basename(modelPath), sha256: file.sha256, arch: file.model.arch, init: 'file' },
        data: { train: dataSpec, samples: data.x.shape[0], eval: evalSpec ?? null, evalSamples: evaluation ? evaluation.x.shape[0] : null },
        seconds: Math.round((performance.now() - t0) / 1000 * 1e3) / 1e3,
      },
    },
    io,
  );
  return 0;
}
