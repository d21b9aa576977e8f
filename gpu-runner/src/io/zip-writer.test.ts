import { execFileSync } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import { storedZip } from './zip-writer.ts';

/** CPython's zipfile checks every CRC and reports each entry's name, method and where its data starts. */
function inspect(bytes: Uint8Array): { name: string; method: number; data_start: number; content: string }[] {
  const script = `
import io, json, struct, sys, zipfile
raw = sys.stdin.buffer.read()
z = zipfile.ZipFile(io.BytesIO(raw))
assert z.testzip() is None
out = []
for i in z.infolist():
    n, e = struct.unpack('<HH', raw[i.header_offset + 26:i.header_offset + 30])
    out.append({'name': i.filename, 'method': i.compress_type, 'data_start': i.header_offset + 30 + n + e, 'content': z.read(i).hex()})
print(json.dumps(out))`;
  return JSON.parse(execFileSync('/usr/bin/python3', ['-c', script], { input: bytes }).toString());
}

describe('storedZip', () => {
  it('writes stored entries whose data starts on the alignment, readable by zipfile with valid CRCs', () => {
    const entries = [
      { name: 'archive/data.pkl', data: Uint8Array.from([0x80, 2, 0x2e]) },
      { name: 'archive/data/0', data: new Uint8Array(0) },
      { name: 'archive/data/1', data: Uint8Array.from({ length: 1000 }, (_, i) => (i * 7) & 0xff) },
      { name: 'archive/ünïcode', data: new TextEncoder().encode('3\n') },
    ];
    for (const alignment of [64, 1, 4096]) {
      const listed = inspect(storedZip(entries, alignment));
      expect(listed.map((e) => e.name)).toEqual(entries.map((e) => e.name));
      listed.forEach((e, i) => {
        expect(e.method).toBe(0);
        expect(e.data_start % alignment).toBe(0);
        expect(e.content).toBe(Buffer.from(entries[i].data).toString('hex'));
      });
    }
  });

  it('refuses duplicate names', () => {
    const data = new Uint8Array(1);
    expect(() => storedZip([{ name: 'a', data }, { name: 'a', data }])).toThrow(/zip entry a is given twice/);
  });
});
