export { FolderStore, type FolderStoreOptions } from './folder-store.ts';
export { S3Store, type ConditionalWrites, type S3StoreOptions } from './s3-store.ts';
export { assertValidKey, assertValidPrefix, keyProblem, MAX_KEY_LENGTH, MAX_SEGMENT_LENGTH } from './keys.ts';
