export { FolderStore, type FolderStoreOptions } from './folder-store.ts';
export { assertValidKey, assertValidPrefix, keyProblem, MAX_KEY_LENGTH, MAX_SEGMENT_LENGTH } from './keys.ts';
