/**
 * The API's types, generated from the server's contract into
 * src/generated/contract.ts (sdk/scripts/generate-types.ts), so the package
 * carries them as plain TypeScript and needs no server sources.
 */
export type * from '../generated/contract.ts';
