/** `clafusion eval`: accuracy of one or more models on labelled data. */
import { basename } from 'node:path';
import { readModelInputs } from '../model-inputs.ts';
import { accuracy, predictionEnsemble } from '../../engine/nn/evaluate.ts';
import { initBackend } from '../../runtime/backend.ts';
import { Args, type FlagSpecs, UsageError, helpText, parseArgs } from '../args.ts';
import { DATA_FLAGS, loadDataArg } from '../data-arg.ts';
import type { CommandIo } from '../io.ts';
import { describeArch } from '../summary.ts';

const FLAGS: FlagSpecs = {
  model: { kind: 'value', repeat: true, placeholder: 'FILE', description: 'model to evaluate (.safetensors)' },
  data: { kind: 'value', placeholder: 'DATA', description: 'labelled data (x and y)' },
  ensemble: { kind: 'switch', description: 'also report the prediction ensemble of all models' },
  json: { kind: 'switch', description: 'print JSON instead of text' },
  limit: { kind: 'value', placeholder: 'N', description: 'use only the first N samples' },
  ...DATA_FLAGS,
  help: { kind: 'switch', description: 'show this help' },
};

const USAGE = 'usage: clafusion eval --model M.safetensors [--model …] --data DATA [--ensemble] [--json]';

export async function evalCommand(argv: readonly string[], io: CommandIo): Promise<number> {
  const args = new Args(parseArgs(argv, FLAGS));
  if (args.switch('help')) {
    io.stdout.write(helpText(USAGE, FLAGS));
    return 0;
  }
  const paths = args.all('model');
  if (paths.length === 0) throw new UsageError('--model is required');
  const files = await readModelInputs(paths);
  const data = await loadDataArg(args.required('data'), args, {
    what: 'data',
    labels: true,
    limit: args.optionalInteger('limit', 1) ?? undefined,
  });
  const backend = await initBackend();
  const labelled = { x: data.x, y: data.y! };
  const results = files.map((f, i) => ({ model: paths[i], arch: f.model.arch, accuracy: accuracy(f.model, labelled) }));
  const ensemble = args.switch('ensemble') ? predictionEnsemble(files.map((f) => f.model), undefined, labelled).accuracy : undefined;
  if (args.switch('json')) {
    io.stdout.write(`${JSON.stringify({ backend: backend.detail, samples: data.x.shape[0], models: results, ensemble }, null, 2)}\n`);
    return 0;
  }
  for (const r of results) {
    io.stdout.write(`${basename(r.model)}  ${describeArch(r.arch)}  accuracy ${(r.accuracy * 100).toFixed(2)}% on ${data.x.shape[0]} samples\n`);
  }
  if (ensemble !== undefined) io.stdout.write(`prediction ensemble  accuracy ${(ensemble * 100).toFixed(2)}%\n`);
  return 0;
}
