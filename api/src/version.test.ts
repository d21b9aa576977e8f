import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { API_VERSION } from './version.ts';

describe('API_VERSION', () => {
  it('is api/package.json’s version', () => {
    expect(API_VERSION).toBe(JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')).version);
  });
});
