import { describe, expect, it } from 'vitest';
import * as io from './index.ts';

describe('io public API', () => {
  it('exports the entry points other packages use', () => {
    for (const name of ['readModelFile', 'writeModelFile', 'toCanonical', 'fromCanonical', 'readSafetensorsHeader', 'loadDataset', 'writeDatasetSafetensors']) {
      expect(typeof (io as Record<string, unknown>)[name]).toBe('function');
    }
  });
});
