/**
 * Test support for the convolutional families: small random VGG/ResNet
 * models (with random BatchNorm statistics, so BN is never a no-op) and the
 * float64 reference forward of engine/nn (plain loops, no tfjs) behind one
 * family-dispatching call.
 */
import { type Arch, type Model, type Params, type ResNetArch, type VggArch, makeModel, paramSpecs } from '@clafusion/model-format/arch';
import { Rng } from '../../src/engine/rng.ts';
import type { Tensor32 } from '@clafusion/model-format/tensor';
import { type BnMode, referenceResNet, referenceVgg } from '../../src/engine/nn/cnn-reference.fixture.ts';

export function randomCnn(arch: VggArch | ResNetArch, seed: number): Model {
  const rng = new Rng(seed);
  const params: Params = new Map();
  const fanIn = new Map<number, number>();
  for (const spec of paramSpecs(arch)) {
    if (spec.role === 'weight') fanIn.set(spec.layer, spec.shape.slice(1).reduce((a, b) => a * b, 1));
    const n = spec.shape.reduce((a, b) => a * b, 1);
    const bound = 1 / Math.sqrt(fanIn.get(spec.layer)!);
    const draw = (): number => {
      switch (spec.role) {
        case 'bn.weight':
          return rng.uniform(0.5, 1.5);
        case 'bn.running_var':
          return rng.uniform(0.5, 2);
        case 'bn.bias':
        case 'bn.running_mean':
          return rng.uniform(-0.3, 0.3);
        default:
          return rng.uniform(-bound, bound) * Math.sqrt(3);
      }
    };
    params.set(spec.name, { shape: [...spec.shape], data: Float32Array.from({ length: n }, draw) });
  }
  return makeModel(arch, params);
}

/** Images [n, C, H, W] for `arch`, standard normal (so some inputs are negative). */
export function randomImages(arch: VggArch | ResNetArch, n: number, seed: number): Tensor32 {
  const rng = new Rng(seed);
  const [h, w, c] = arch.input;
  return { shape: [n, c, h, w], data: Float32Array.from({ length: n * c * h * w }, () => rng.normal()) };
}

/** The float64 reference taps (§2.2), logits last. */
export function referenceTaps(model: Model, x: Tensor32, bn?: BnMode): Float64Array[] {
  const arch: Arch = model.arch;
  if (arch.family === 'vgg') return referenceVgg(model as Model & { arch: VggArch }, x, bn);
  if (arch.family === 'resnet') return referenceResNet(model as Model & { arch: ResNetArch }, x, bn);
  throw new Error('referenceTaps: convolutional families only');
}

export function referenceLogits(model: Model, x: Tensor32): Float64Array {
  return referenceTaps(model, x).at(-1)!;
}
