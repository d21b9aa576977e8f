/**
 * What tests need to reach the shared test servers (see global-setup.ts).
 */
import { randomBytes } from 'node:crypto';
import { S3Client, type S3ClientConfig } from '@aws-sdk/client-s3';
import { inject } from 'vitest';

export const redisUrl = (): string => inject('redisUrl');
export const s3Endpoint = (): string => inject('s3Endpoint');

/** s3rver accepts any secret for this access key (it does not check signatures). */
export const S3RVER_CREDENTIALS = { accessKeyId: 'S3RVER', secretAccessKey: 'S3RVER' };

/** A name no other test in this run uses: queues, buckets (lowercase, 3-63 chars), key prefixes. */
export function uniqueName(prefix: string): string {
  return `${prefix}-${Date.now().toString(36)}-${randomBytes(4).toString('hex')}`.toLowerCase();
}

/** An S3 client for s3rver with the settings ecosystem-notes §4 requires (path style, WHEN_REQUIRED checksums). */
export function s3rverClientConfig(): S3ClientConfig {
  return {
    endpoint: s3Endpoint(),
    region: 'us-east-1',
    forcePathStyle: true,
    credentials: S3RVER_CREDENTIALS,
    requestChecksumCalculation: 'WHEN_REQUIRED',
    responseChecksumValidation: 'WHEN_REQUIRED',
  };
}

export function s3rverClient(): S3Client {
  return new S3Client(s3rverClientConfig());
}
