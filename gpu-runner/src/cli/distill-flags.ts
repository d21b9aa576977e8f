/**
 * `fuse --distill EPOCHS --train DATA --alpha A --temperature T`:
 * distilling the input models into the fused model right after fusion
 * (§10.2). The flags and their checks come from the training options
 * declaration (training-flags.ts): --train and the hyperparameter flags
 * (--lr, --batch, …) are the finetuning ones (finetune-flags.ts), --distill
 * and --finetune exclude each other, and every distillation flag is
 * rejected without --distill.
 */
import type { DistillRequest } from '../pipeline/distill-fusion.ts';
import type { Args, FlagSpecs } from './args.ts';
import { loadDataArg } from './data-arg.ts';
import { FINETUNE_FLAGS } from './finetune-flags.ts';
import { fuseTrainingFlags, trainingRequestFromArgs } from './training-flags.ts';

export const DISTILL_FLAGS: FlagSpecs = fuseTrainingFlags('distill', FINETUNE_FLAGS);

/** The distillation part of the request, or undefined without --distill; usage errors come before any data is read. */
export async function distillRequestFromArgs(args: Args): Promise<DistillRequest | undefined> {
  const resolved = trainingRequestFromArgs(args);
  if (resolved?.section !== 'distill') return undefined;
  const data = await loadDataArg(resolved.train, args, { what: 'train', labels: true });
  const { alpha, temperature, ...values } = resolved.values;
  return { ...values, alpha: alpha!, temperature: temperature!, data: { x: data.x, y: data.y! } };
}
