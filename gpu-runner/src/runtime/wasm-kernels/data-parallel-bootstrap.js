// Worker entry for DataParallelTrainer. It is plain JS on purpose: in Node 20 a worker does not
// inherit the parent's module hooks, and `--import tsx` in the worker's execArgv does not apply to
// the worker's own entry, so the worker registers tsx itself before loading the TypeScript worker.
import { register } from 'tsx/esm/api';

register();
await import('./data-parallel-worker.ts');
