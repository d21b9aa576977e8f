/** `--threads N` of the training commands: worker threads for data-parallel training (default: every core). */
import { allCores } from '../runtime/threads.ts';
import type { Args, FlagSpecs } from './args.ts';

export const THREADS_FLAG: FlagSpecs = {
  threads: {
    kind: 'value',
    placeholder: 'N',
    description: 'train data-parallel on N worker threads (default: all cores); the same seed and N give the same model, other N differ by float rounding',
  },
};

export function threadsFromArgs(args: Args): number {
  return args.integer('threads', allCores(), 1);
}
