// Entry of a tap-recording thread (record-taps-pool.ts). Node's worker
// threads do not inherit tsx's loader, so the thread registers it before
// importing the TypeScript.
import { register } from 'tsx/esm/api';

register();
await import('./record-taps-worker.ts');
