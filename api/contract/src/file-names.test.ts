import { describe, expect, it } from 'vitest';
import { CreateFileInput, FILE_NAME_MAX_BYTES, fileNameProblem } from './index.ts';

describe('file name rules', () => {
  it.each(['modèle-模型.safetensors', 'é.safetensors', 'نموذج.safetensors', '👩‍👩‍👧 family.pt', 'a"b;c%d.bin', 'a\u200fb', 'Ä\u0308 combining', '.hidden'])('accepts %j', (name) => {
    expect(fileNameProblem(name)).toBeNull();
  });

  it.each([
    ['', /empty/],
    ['a/b', /"\/"/],
    ['a\\b', /"\/" or "\\"/],
    ['..', /"\.\."/],
    ['line\nbreak', /control/],
    ['nul\u0000', /control/],
    ['c1\u0085', /control/],
    ['evil\u202etxt.exe', /bidirectional/],
    ['iso\u2067x', /bidirectional/],
    ['lone\ud800', /unpaired surrogate/],
    ['\udc00', /unpaired surrogate/],
  ])('refuses %j', (name, message) => {
    expect(fileNameProblem(name)).toMatch(message);
  });

  it('bounds the name in UTF-8 bytes, not characters', () => {
    expect(fileNameProblem('a'.repeat(FILE_NAME_MAX_BYTES))).toBeNull();
    expect(fileNameProblem('a'.repeat(FILE_NAME_MAX_BYTES + 1))).toMatch(/at most 255 bytes/);
    // 85 × 3 bytes = 255 fits; 86 does not, though it is only 86 characters.
    expect(fileNameProblem('模'.repeat(85))).toBeNull();
    expect(fileNameProblem('模'.repeat(86))).toMatch(/it is 258/);
  });

  it('the create schema names the field', () => {
    const parsed = CreateFileInput.safeParse({ name: 'a\nb', purpose: 'model', size: 1 });
    expect(parsed.success).toBe(false);
    expect(parsed.error?.issues.map((i) => [i.path.join('.'), i.message])).toEqual([['name', 'must not contain control characters']]);
  });
});
