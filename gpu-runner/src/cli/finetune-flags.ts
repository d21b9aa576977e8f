/**
 * `fuse --finetune EPOCHS --train DATA`: finetuning the fused model right
 * after fusion (§10.1). The flags live here so `fuse` only wires them in;
 * every hyperparameter flag is rejected without --finetune rather than
 * silently ignored.
 */
import type { FinetuneRequest, FusionTrainingEvent } from '../pipeline/finetune-fusion.ts';
import { type Args, type FlagSpecs, UsageError } from './args.ts';
import { loadDataArg } from './data-arg.ts';
import type { ProgressSink } from './progress.ts';
import { THREADS_FLAG } from './threads-flag.ts';
import { trainingFlags, trainingPrinter, trainingSpecFromArgs } from './training-flags.ts';

const HYPERPARAMETERS = trainingFlags('finetune-preset', 'finetune');

export const FINETUNE_FLAGS: FlagSpecs = {
  finetune: { kind: 'value', placeholder: 'EPOCHS', description: 'finetune the fused model for EPOCHS epochs after fusion (needs --train); the file written is the best epoch' },
  train: { kind: 'value', placeholder: 'DATA', description: 'labelled training data for --finetune or --distill' },
  'finetune-models': {
    kind: 'value',
    placeholder: 'fused|all',
    description: 'finetune only the fused model (default, --retrain-geometric-only) or also the inputs and depth-aligned models (main.py), reported in the report',
  },
  'unfinetuned-out': { kind: 'value', placeholder: 'FILE', description: 'with --finetune or --distill: also write the fused model as fusion left it' },
  ...HYPERPARAMETERS,
  // Not a finetuning-only flag (so not refused without --finetune): fuse may use threads for more than
  // training. fuse.ts adds it to the request, as the runner adds RUNNER_THREADS to a job's.
  ...THREADS_FLAG,
};

/** The finetuning part of the request, or undefined without --finetune; usage errors come before any data is read. */
export async function finetuneRequestFromArgs(args: Args): Promise<FinetuneRequest | undefined> {
  if (!args.has('finetune')) {
    // With --distill (distill-flags.ts) the shared flags apply; only the finetuning-specific ones are stray.
    if (args.has('distill')) {
      const stray = ['finetune-models', 'finetune-preset'].find((f) => args.has(f));
      if (stray) throw new UsageError(`--${stray} only applies with --finetune EPOCHS`);
      return undefined;
    }
    const stray = ['train', 'finetune-models', 'unfinetuned-out', ...Object.keys(HYPERPARAMETERS)].find((f) => args.has(f));
    if (stray) throw new UsageError(`--${stray} only applies with --finetune EPOCHS`);
    return undefined;
  }
  if (args.has('distill')) throw new UsageError('--finetune and --distill exclude each other: a fusion either finetunes or distils the fused model');
  const trainSpec = args.string('train');
  if (trainSpec === undefined) throw new UsageError('--finetune needs --train DATA (labelled training data)');
  const spec = trainingSpecFromArgs(args, trainSpec, 'finetune-preset', 'finetune');
  const models = args.choice('finetune-models', ['fused', 'all'] as const, 'fused');
  const data = await loadDataArg(trainSpec, args, { what: 'train', labels: true });
  return { ...spec, models, data: { x: data.x, y: data.y! } };
}

/** Progress per batch and one line per epoch, naming the training (finetune or distill) and the model. */
export function finetuneProgress(progress: ProgressSink, stream: NodeJS.WritableStream, quiet: boolean): (e: FusionTrainingEvent) => void {
  const printer = trainingPrinter(progress, stream, quiet);
  return (e) =>
    e.type === 'batch'
      ? printer.batch(`${e.kind} ${e.model} `, e.epoch, e.epochs, e.batch / e.batches, e.loss)
      : printer.epoch(`${e.kind} ${e.model}: `, e.metrics, e.epochs);
}
