/**
 * Loading a dataset named on the command line, with the shared
 * preprocessing flags. Files are used as given unless --normalize says
 * otherwise; the built-in sources (mnist:…, fashion-mnist:…) default to their
 * standard normalisation, as the paper's loaders apply it.
 */
import { loadDataset } from '../io/datasets.ts';
import type { Dataset } from '../io/dataset.ts';
import { NORMALIZE_PRESETS, type Normalization, type NormalizePreset } from '../io/dataset-transforms.ts';
import { FusionError } from '@clafusion/model-format/errors';
import { type Args, type FlagSpecs, UsageError } from './args.ts';

export const DATA_FLAGS: FlagSpecs = {
  normalize: {
    kind: 'value',
    placeholder: 'none|mnist|fashion-mnist|cifar10|MEAN,STD',
    description: 'normalise loaded data (default: none for files, the standard one for mnist:/fashion-mnist:)',
  },
  pad: { kind: 'value', placeholder: 'N', description: 'zero-pad images by N pixels per side (e.g. 2: 28×28 → 32×32)' },
  channels: { kind: 'value', placeholder: 'N', description: 'repeat a grayscale channel N times (3 for CNNs made for RGB)' },
};

export function normalizationFor(spec: string, args: Args): NormalizePreset | Normalization | undefined {
  const raw = args.string('normalize');
  if (raw === undefined) {
    if (spec.startsWith('mnist:')) return 'mnist';
    if (spec.startsWith('fashion-mnist:')) return 'fashion-mnist';
    return undefined;
  }
  if (raw === 'none') return undefined;
  if (raw in NORMALIZE_PRESETS) return raw as NormalizePreset;
  const parts = raw.split(',').map(Number);
  if (parts.length === 2 && parts.every(Number.isFinite) && parts[1] > 0) return { mean: parts[0], std: parts[1] };
  throw new UsageError(`--normalize must be none, ${Object.keys(NORMALIZE_PRESETS).join(', ')} or MEAN,STD; got "${raw}"`);
}

export interface DataArgOptions {
  /** Which flag this is, for messages. */
  what: string;
  /** Labels are required. */
  labels?: boolean;
  limit?: number;
}

export async function loadDataArg(spec: string, args: Args, options: DataArgOptions): Promise<Dataset> {
  const pad = args.optionalInteger('pad', 0);
  const channels = args.optionalInteger('channels', 1);
  const dataset = await loadDataset(spec, {
    limit: options.limit,
    normalize: normalizationFor(spec, args),
    pad: pad ?? undefined,
    channels: channels ?? undefined,
  });
  if (options.labels && dataset.y === undefined) {
    throw new FusionError('MISSING_TENSOR', `--${options.what} ${spec} has no labels (y); labelled data is needed here`, {
      field: options.what,
    });
  }
  return dataset;
}
