// Entry of a data-parallel training replica. Node's worker threads do not
// inherit tsx's loader, so the thread registers it before importing the
// TypeScript (as worker/thread-boot.mjs does for fusion threads).
import { register } from 'tsx/esm/api';

register();
await import('./data-parallel-replica.ts');
