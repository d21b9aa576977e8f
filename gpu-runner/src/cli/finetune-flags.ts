/**
 * `fuse --finetune EPOCHS --train DATA`: finetuning the fused model right
 * after fusion (§10.1). The flags and their checks come from the training
 * options declaration (training-flags.ts); this file only adds the
 * CLI-only ones and loads the data. Every finetuning flag is rejected
 * without --finetune rather than silently ignored.
 */
import type { FinetuneRequest, FusionTrainingEvent } from '../pipeline/finetune-fusion.ts';
import { type Args, type FlagSpecs, UsageError } from './args.ts';
import { loadDataArg } from './data-arg.ts';
import type { ProgressSink } from './progress.ts';
import { THREADS_FLAG } from './threads-flag.ts';
import { fuseTrainingFlags, trainingPrinter, trainingRequestFromArgs } from './training-flags.ts';

export const FINETUNE_FLAGS: FlagSpecs = {
  ...fuseTrainingFlags('finetune'),
  'unfinetuned-out': { kind: 'value', placeholder: 'FILE', description: 'with --finetune or --distill: also write the fused model as fusion left it' },
  // Not a finetuning-only flag (so not refused without --finetune): fuse may use threads for more than
  // training. fuse.ts adds it to the request, as the runner adds RUNNER_THREADS to a job's.
  ...THREADS_FLAG,
};

/** The finetuning part of the request, or undefined without --finetune; usage errors come before any data is read. */
export async function finetuneRequestFromArgs(args: Args): Promise<FinetuneRequest | undefined> {
  const resolved = trainingRequestFromArgs(args);
  if (resolved?.section !== 'finetune') {
    // An output flag, not an option of the declaration: it applies with either section.
    if (!resolved && args.has('unfinetuned-out')) throw new UsageError('--unfinetuned-out only applies with --finetune EPOCHS');
    return undefined;
  }
  const data = await loadDataArg(resolved.train, args, { what: 'train', labels: true });
  return { ...resolved.values, data: { x: data.x, y: data.y! } };
}

/** Progress per batch and one line per epoch, naming the training (finetune or distill) and the model. */
export function finetuneProgress(progress: ProgressSink, stream: NodeJS.WritableStream, quiet: boolean): (e: FusionTrainingEvent) => void {
  const printer = trainingPrinter(progress, stream, quiet);
  return (e) =>
    e.type === 'batch'
      ? printer.batch(`${e.kind} ${e.model} `, e.epoch, e.epochs, e.batch / e.batches, e.loss)
      : printer.epoch(`${e.kind} ${e.model}: `, e.metrics, e.epochs);
}
