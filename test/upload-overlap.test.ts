/**
 * Two uploads of the same file overlapping with its completion, on the
 * embedded service (folder store, uploads streamed through the API, real HTTP
 * on 127.0.0.1): a slow upload that was still streaming when another one
 * finished and the file was completed must not replace the content of the
 * now-ready file. Otherwise the file would be `ready` with one sha256 and
 * architecture while its stored bytes (what runners fuse and downloads serve)
 * are another model's.
 */
import { createHash } from 'node:crypto';
import { mkdtempSync, readdirSync, rmSync, statSync } from 'node:fs';
import { request } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { createApiKey } from '../api/src/auth/api-keys.ts';
import type { CreateFileResult, FileObject } from '../api/contract/src/index.ts';
import { layout } from '../api/contract/src/store-layout.ts';
import type { FolderStore } from '../api/src/storage/index.ts';
import { ARCH_A, modelBytes } from './support/fixtures.ts';
import { startEmbedded } from './support/embedded.ts';
import { Rest, expectApiError } from './support/rest.ts';

const dir = mkdtempSync(join(tmpdir(), 'clafusion-upload-overlap-'));
let server: Awaited<ReturnType<typeof startEmbedded>>;
let api: Rest;
let store: FolderStore;
const sha256 = (b: Uint8Array) => createHash('sha256').update(b).digest('hex');

beforeAll(async () => {
  server = await startEmbedded(join(dir, 'store'), 0);
  store = server.store;
  api = new Rest(server.url, (await createApiKey(store, 'acme')).token);
});

afterAll(async () => {
  await server?.close();
  rmSync(dir, { recursive: true, force: true });
});

/** A PUT that sends its first chunk, then waits for `gate` before sending the rest. */
function pausedPut(url: string, headers: Record<string, string>, bytes: Uint8Array, gate: Promise<void>) {
  const split = Math.floor(bytes.length / 2);
  let step = 0;
  let firstSent!: () => void;
  const started = new Promise<void>((r) => (firstSent = r));
  const body = new Readable({
    read() {
      if (step === 0) {
        step = 1;
        this.push(bytes.subarray(0, split));
        firstSent();
      } else if (step === 1) {
        step = 2;
        void gate.then(() => {
          this.push(bytes.subarray(split));
          this.push(null);
        });
      }
    },
  });
  const outcome = new Promise<{ status: number; body: string } | { error: Error }>((resolve) => {
    const req = request(url, { method: 'PUT', headers: { ...headers, 'content-length': String(bytes.length) } }, (res) => {
      let text = '';
      res.setEncoding('utf8');
      res.on('data', (d: string) => (text += d));
      res.on('end', () => resolve({ status: res.statusCode!, body: text }));
    });
    req.on('error', (error) => resolve({ error }));
    body.pipe(req);
  });
  return { started, outcome };
}

describe('an upload still streaming when the file is completed', () => {
  it('cannot replace the content of the ready file: complete is refused while an upload streams, uploads after it are refused', async () => {
    const first = modelBytes(ARCH_A, 21);
    const second = modelBytes(ARCH_A, 22);
    expect(first.length).toBe(second.length);
    const { file, upload } = await api.json<CreateFileResult>('/v1/files', {
      method: 'POST',
      json: { name: 'a.safetensors', purpose: 'model', size: first.length },
    });
    const headers = { ...api.headers(), 'content-type': 'application/octet-stream' };

    // Upload #1 (the slow one) is halfway through.
    let openGate!: () => void;
    const gate = new Promise<void>((r) => (openGate = r));
    const slow = pausedPut(upload.url, headers, second, gate);
    await slow.started;
    const contentKey = layout.fileContent('acme', file.id);
    // Wait until the API is receiving it: its first half is in a staging file.
    const staging = join(store.root, '.staging');
    const deadline = Date.now() + 30_000;
    while (!readdirSync(staging).some((name) => (statSync(join(staging, name), { throwIfNoEntry: false })?.size ?? 0) > 0)) {
      if (Date.now() > deadline) throw new Error('the API never staged the slow upload');
      await new Promise((r) => setTimeout(r, 10));
    }

    // Upload #2 finishes.
    const fast = await fetch(upload.url, { method: 'PUT', headers, body: first });
    expect(fast.status, await fast.clone().text()).toBe(200);
    // Completing now, while upload #1 still streams, is refused: the content may still change.
    const busy = await expectApiError(await api.fetch(`/v1/files/${file.id}/complete`, { method: 'POST' }), 'file_not_ready');
    expect(busy.message).toMatch(/in progress/);

    openGate();
    const late = await slow.outcome;
    expect('status' in late && late.status, JSON.stringify(late)).toBe(200);
    // Now nothing streams: complete validates what is stored, and the record matches the bytes.
    const ready = await api.json<FileObject>(`/v1/files/${file.id}/complete`, { method: 'POST' });
    expect(ready.status).toBe('ready');
    const stored = await store.getBytes(contentKey);
    expect(ready.sha256).toBe(sha256(stored));
    expect(sha256(await api.download(`/v1/files/${file.id}/content`))).toBe(ready.sha256);

    // And after completion, an upload is refused before it changes anything.
    const after = await fetch(upload.url, { method: 'PUT', headers, body: first });
    await expectApiError(after, 'file_already_completed');
    expect(sha256(await store.getBytes(contentKey))).toBe(ready.sha256);
  });

  it('a client that goes away mid-upload: nothing stored, the file stays pending, no internal error logged', async () => {
    const bytes = modelBytes(ARCH_A, 23);
    const { file, upload } = await api.json<CreateFileResult>('/v1/files', {
      method: 'POST',
      json: { name: 'b.safetensors', purpose: 'model', size: bytes.length },
    });
    const errors = vi.spyOn(console, 'error');
    try {
      const headers = { ...api.headers(), 'content-type': 'application/octet-stream', 'content-length': String(bytes.length) };
      const req = request(upload.url, { method: 'PUT', headers });
      req.on('error', () => undefined);
      req.write(bytes.subarray(0, bytes.length >> 1));
      const staging = join(store.root, '.staging');
      const deadline = Date.now() + 30_000;
      while (!readdirSync(staging).some((name) => (statSync(join(staging, name), { throwIfNoEntry: false })?.size ?? 0) > 0)) {
        if (Date.now() > deadline) throw new Error('the API never staged the upload');
        await new Promise((r) => setTimeout(r, 10));
      }
      req.destroy();
      // The API notices and cleans up: the staging file goes away.
      while (readdirSync(staging).length > 0) {
        if (Date.now() > deadline) throw new Error('the staging file of the cut upload stayed');
        await new Promise((r) => setTimeout(r, 10));
      }
      expect(await store.head(layout.fileContent('acme', file.id))).toBeNull();
      expect(await api.json<FileObject>(`/v1/files/${file.id}`)).toMatchObject({ status: 'pending', sha256: null });
      expect(errors.mock.calls.filter((c) => String(c[0]).includes('unhandled'))).toEqual([]);
    } finally {
      errors.mockRestore();
    }
  });
});
