/**
 * `fuse --distill EPOCHS --train DATA --alpha A --temperature T`:
 * distilling the input models into the fused model right after fusion
 * (§10.2). The hyperparameter flags (--lr, --batch, …) and --train are the
 * finetuning ones (finetune-flags.ts); --distill and --finetune exclude each
 * other, and every distillation flag is rejected without --distill.
 */
import { DISTILL_TEACHERS, type DistillRequest } from '../pipeline/distill-fusion.ts';
import { type Args, type FlagSpecs, UsageError } from './args.ts';
import { loadDataArg } from './data-arg.ts';
import { trainingSpecFromArgs } from './training-flags.ts';

export const DISTILL_FLAGS: FlagSpecs = {
  distill: {
    kind: 'value',
    placeholder: 'EPOCHS',
    description: 'distil the input models into the fused model for EPOCHS epochs after fusion (needs --train, --alpha, --temperature); the file written is the best of before and every epoch',
  },
  alpha: { kind: 'value', placeholder: 'A', description: 'with --distill: weight of the distillation term in [0, 1] (the paper\'s γ)' },
  temperature: { kind: 'value', placeholder: 'T', description: 'with --distill: softmax temperature (> 0)' },
  'distill-teachers': {
    kind: 'value',
    placeholder: 'inputs|deeper',
    description: 'with --distill: every input model teaches, their mean logit the target (default), or only the deepest input',
  },
  'distill-preset': { kind: 'value', placeholder: 'NAME', description: 'with --distill: hyperparameter preset (default: the family\'s distillation preset)' },
};

const DISTILL_ONLY = ['alpha', 'temperature', 'distill-teachers', 'distill-preset'];

/** The distillation part of the request, or undefined without --distill; usage errors come before any data is read. */
export async function distillRequestFromArgs(args: Args): Promise<DistillRequest | undefined> {
  if (!args.has('distill')) {
    const stray = DISTILL_ONLY.find((f) => args.has(f));
    if (stray) throw new UsageError(`--${stray} only applies with --distill EPOCHS`);
    return undefined;
  }
  if (args.has('finetune')) throw new UsageError('--finetune and --distill exclude each other: a fusion either finetunes or distils the fused model');
  const trainSpec = args.string('train');
  if (trainSpec === undefined) throw new UsageError('--distill needs --train DATA (labelled training data)');
  if (!args.has('alpha')) throw new UsageError('--distill needs --alpha A (weight of the distillation term in [0, 1])');
  const alpha = args.number('alpha', 0, { min: 0, max: 1 });
  if (!args.has('temperature')) throw new UsageError('--distill needs --temperature T (softmax temperature > 0)');
  const temperature = args.number('temperature', 0);
  if (!(temperature > 0)) throw new UsageError(`--temperature must be a positive number, got ${args.string('temperature')}`);
  const spec = trainingSpecFromArgs(args, trainSpec, 'distill-preset', 'distill');
  const teachers = args.choice('distill-teachers', DISTILL_TEACHERS, 'inputs');
  const data = await loadDataArg(trainSpec, args, { what: 'train', labels: true });
  return { ...spec, alpha, temperature, teachers, data: { x: data.x, y: data.y! } };
}
