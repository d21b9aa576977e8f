/**
 * What tests need to reach the shared test servers (see global-setup.ts).
 */
import { randomBytes } from 'node:crypto';
import { S3Client, type S3ClientConfig } from '@aws-sdk/client-s3';
import { inject } from 'vitest';

export const redisUrl = (): string => inject('redisUrl');
export const s3Endpoint = (): string => inject('s3Endpoint');
/** The run's S3 keys: S3RVER/S3RVER on s3rver, generated ones on radosgw (CLAFUSION_TEST_S3=radosgw). */
export const s3Credentials = (): { accessKeyId: string; secretAccessKey: string } => inject('s3Credentials');
/** Which S3 server this run uses. */
export const s3Server = (): 's3rver' | 'radosgw' => inject('s3Server');
/** True when the S3 server checks SigV4 signatures (radosgw; s3rver does not). */
export const s3ChecksSignatures = (): boolean => s3Server() !== 's3rver';

/**
 * s3rver accepts any secret for this access key (it does not check signatures).
 * Only right when the run uses s3rver: tests should use s3Credentials().
 */
export const S3RVER_CREDENTIALS = { accessKeyId: 'S3RVER', secretAccessKey: 'S3RVER' };

/** A name no other test in this run uses: queues, buckets (lowercase, 3-63 chars), key prefixes. */
export function uniqueName(prefix: string): string {
  return `${prefix}-${Date.now().toString(36)}-${randomBytes(4).toString('hex')}`.toLowerCase();
}

/** An S3 client for the run's server with the settings the local S3 servers need (path style, WHEN_REQUIRED checksums: see api/src/storage/s3-store.ts). */
export function s3ClientConfig(): S3ClientConfig {
  return {
    endpoint: s3Endpoint(),
    region: 'us-east-1',
    forcePathStyle: true,
    credentials: s3Credentials(),
    requestChecksumCalculation: 'WHEN_REQUIRED',
    responseChecksumValidation: 'WHEN_REQUIRED',
  };
}

export function s3Client(): S3Client {
  return new S3Client(s3ClientConfig());
}

/** Older names of s3ClientConfig()/s3Client(); they use the run's server and keys, s3rver or radosgw. */
export const s3rverClientConfig = s3ClientConfig;
export const s3rverClient = s3Client;
