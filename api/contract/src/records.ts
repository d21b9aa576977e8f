/**
 * Records the store holds that are not part of the public HTTP contract but
 * that both the API and the runner read.
 */
import type { CreateFileInput, FileObject } from './files.ts';

/** What the store holds per file: the public object plus what only the service needs. */
export interface StoredFile extends FileObject {
  arch_override: CreateFileInput['arch'] | null;
}
