/**
 * The recorded values of B′ derived from B's instead of running B′.
 *
 * B′ computes what B computes (§6.1), layer for layer: a copied layer sees
 * exactly the input it sees in B, so its tap is B's tap; an inserted layer
 * passes its input through, so its tap is that input:
 *
 * - VGG identity conv or identity FC layer: ReLU of the tap before it,
 *   max-pooled if a pool lies between (ReLU(x) ≥ 0 passes both the
 *   identity and its ReLU unchanged);
 * - ResNet zero block: conv1 records 0 everywhere, conv2 (the block sum)
 *   records 0 + its input, i.e. ReLU of the previous block's sum (or of
 *   the stem).
 *
 * For models without BatchNorm the derived taps are bit-identical to a
 * forward pass of B′ (a one-hot kernel adds exact zeros, a zero block adds
 * 0 to x); an inserted identity BatchNorm multiplies by √(1+eps)/√(1+eps),
 * within an ulp of 1. Recording B′ is the largest single cost of fusing a
 * full-size pair, since B′ has A's depth: this saves one of three forward
 * passes (bench: ResNet34 ← ResNet18 activations 48.0 s → 28.6 s CPU).
 *
 * Only valid when B′ preserves B's function: not when an identity precedes
 * B's first layer (possible without the first-layer constraint), whose
 * input may be negative. `deriveDepthAlignedTaps` returns null then.
 *
 * The inserted layers' taps are computed when read and not kept (a getter
 * on `data`): OT reads each layer's tap once and lets go of it
 * (otfusion.ts), so B′ costs no memory beyond B's own taps. Materialised up
 * front they were ~190 MB of a full-size ResNet pair's peak (zeros and
 * ReLU copies at 64×32×32 × 200 samples are 52 MB each).
 */
import { type Arch, type Model, layerSpecs } from '@clafusion/model-format/arch';
import { type AddPlan, addLayersPlan } from '../balance/add-layers.ts';
import { numel } from '@clafusion/model-format/tensor';
import { tapShapes } from '../nn/layers.ts';
import type { FusionHooks } from './hooks.ts';
import type { Tap } from './taps.ts';

export function deriveDepthAlignedTaps(arch: Arch, plan: AddPlan, tapsB: readonly Tap[], t: number, shapes: readonly number[][]): Tap[] | null {
  if (plan[0] === null) return null;
  const specs = layerSpecs(arch);
  const pooledBefore = poolsBefore(arch);
  const out: Tap[] = [];
  // Inserted layers repeat values: every zero block's conv1 records zeros, and
  // a run of inserted blocks (or identities) records ReLU(x) again and again.
  const rectified = new WeakMap<Tap, Tap>();
  const relu = (tap: Tap): Tap => {
    let r = rectified.get(tap);
    if (r === undefined) {
      r = derivedTap(tap.shape, () => {
        // A plain loop: TypedArray.map measured ~20× slower here, more so on a shared buffer.
        const src = tap.data;
        const data = new Float32Array(src.length);
        for (let i = 0; i < src.length; i++) data[i] = src[i] > 0 ? src[i] : 0;
        return data;
      });
      rectified.set(tap, r);
      rectified.set(r, r); // ReLU(ReLU(x)) = ReLU(x), bit for bit
    }
    return r;
  };
  let stream: Tap | null = null; // ResNet: the last block sum (or stem) tap
  plan.forEach((source, slot) => {
    const spec = specs[slot];
    let tap: Tap;
    if (source !== null) tap = tapsB[source];
    else if (arch.family === 'resnet') {
      if (spec.role === 'conv1') {
        const length = t * numel(shapes[slot]);
        tap = derivedTap(shapes[slot], () => new Float32Array(length));
      } else tap = relu(stream!);
    } else {
      let input = relu(out[slot - 1]);
      for (let p = 0; p < pooledBefore[slot]; p++) input = maxPool2(input, t);
      const pooled = input;
      tap = derivedTap(shapes[slot], () => pooled.data);
    }
    out.push(tap);
    if (spec.role === 'stem' || spec.role === 'conv2') stream = tap;
  });
  return out;
}

/** For each layer of a VGG, the number of max-pools between it and the layer before. */
function poolsBefore(arch: Arch): number[] {
  const counts: number[] = [];
  if (arch.family !== 'vgg') return counts;
  let pending = 0;
  for (const entry of arch.config) {
    if (entry === 'M') pending++;
    else {
      counts.push(pending);
      pending = 0;
    }
  }
  counts.push(pending); // the first FC layer reads the map after the trailing pools
  return counts;
}

/** A tap whose values are computed each time they are read. */
function derivedTap(shape: number[], compute: () => Float32Array): Tap {
  return {
    shape,
    get data() {
      return compute();
    },
  };
}

/** MaxPool2d(2, 2) of a tap [t, C, H, W] (odd sizes floored, as PyTorch does). */
function maxPool2(tap: Tap, t: number): Tap {
  const [C, H, W] = tap.shape;
  const h = Math.floor(H / 2);
  const w = Math.floor(W / 2);
  return derivedTap([C, h, w], () => {
    const x = tap.data;
    const data = new Float32Array(t * C * h * w);
    for (let p = 0; p < t * C; p++) {
      for (let i = 0; i < h; i++) {
        for (let j = 0; j < w; j++) {
          const base = p * H * W + 2 * i * W + 2 * j;
          data[(p * h + i) * w + j] = Math.max(x[base], x[base + 1], x[base + W], x[base + W + 1]);
        }
      }
    }
    return data;
  });
}

/**
 * The taps of B′ built by adding layers to B with `mapping`: derived from
 * B's (recorded through `hooks`, usually already cached from CLA), or
 * recorded from B′ when they cannot be derived.
 */
export async function depthAlignedTaps(B: Model, Bp: Model, mapping: readonly number[], t: number, hooks: FusionHooks): Promise<Tap[]> {
  const plan = addLayersPlan(mapping, layerSpecs(Bp.arch).length - 1);
  if (plan[0] !== null) {
    const derived = deriveDepthAlignedTaps(Bp.arch, plan, await hooks.record(B, 'shallower'), t, tapShapes(Bp.arch));
    if (derived) return derived;
  }
  return hooks.record(Bp, 'depth-aligned');
}
