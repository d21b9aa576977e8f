/**
 * Content-Disposition for any stored name: always a header Node sends, and a
 * parser other than ours (the `content-disposition` package Express uses)
 * reads back exactly the name from `filename*` (issue #18).
 */
import { validateHeaderValue } from 'node:http';
import contentDispositionPackage from 'content-disposition';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { fileNameProblem } from '@clafusion/contract';
import { asciiFallback, contentDisposition, encodeExtValue } from './content-disposition.ts';

const parse = (header: string) => contentDispositionPackage.parse(header);

describe('contentDisposition', () => {
  it('keeps a plain ASCII name as both parameters', () => {
    expect(contentDisposition('attachment', 'fused.safetensors')).toBe(`attachment; filename="fused.safetensors"; filename*=UTF-8''fused.safetensors`);
  });

  it('encodes the issue’s name per RFC 8187 (worked by hand: è = C3 A8, 模 = E6 A8 A1, 型 = E5 9E 8B)', () => {
    expect(contentDisposition('attachment', 'modèle-模型.safetensors')).toBe(
      `attachment; filename="mod_le-__.safetensors"; filename*=UTF-8''mod%C3%A8le-%E6%A8%A1%E5%9E%8B.safetensors`,
    );
  });

  it('cannot be broken out of by quotes, semicolons, percent signs or line breaks', () => {
    const header = contentDisposition('attachment', 'a"; filename="evil.exe\r\nSet-Cookie: x=1;%41');
    expect(header).not.toMatch(/[\r\n]/);
    expect(parse(header).parameters.filename).toBe('a"; filename="evil.exe\r\nSet-Cookie: x=1;%41');
    expect(asciiFallback('"\\%')).toBe('___');
  });

  it('never leaves the ASCII fallback empty', () => {
    expect(asciiFallback('   ')).toBe('download');
    expect(contentDisposition('inline', '模型')).toContain('filename="__"');
  });

  it('for every well-formed name: a sendable ASCII header whose filename* decodes to the name', () => {
    fc.assert(
      fc.property(fc.string({ unit: 'grapheme', maxLength: 80 }), fc.string({ unit: 'binary', maxLength: 40 }), (a, b) => {
        const name = a + b;
        if (name.length === 0) return;
        const header = contentDisposition('attachment', name);
        expect(header).toMatch(/^[\x20-\x7e]+$/);
        expect(() => validateHeaderValue('content-disposition', header)).not.toThrow();
        // encodeURIComponent's inverse is an independent decoder of the percent-encoding.
        expect(decodeURIComponent(encodeExtValue(name))).toBe(name);
        expect(parse(header).parameters.filename).toBe(name);
      }),
      { numRuns: 200 },
    );
  });

  it('a name the rules accept always round-trips through the header', () => {
    fc.assert(
      fc.property(fc.string({ unit: 'binary', minLength: 1, maxLength: 60 }), (name) => {
        fc.pre(fileNameProblem(name) === null);
        expect(parse(contentDisposition('attachment', name)).parameters.filename).toBe(name);
      }),
      { numRuns: 500 },
    );
  });
});
