/**
 * PyTorch's default initialisation for Linear (and Conv2d) layers, drawn from
 * the engine's seeded RNG.
 *
 * `reset_parameters` calls kaiming_uniform_(weight, a=√5): gain = √(2/(1+a²))
 * = √(1/3), std = gain/√fan_in, bound = √3·std = 1/√fan_in. The bias is
 * U(−1/√fan_in, 1/√fan_in) with the same fan_in. So every entry of a layer is
 * U(−1/√fan_in, 1/√fan_in), fan_in being the weight's values per output unit
 * (in for Linear, in·kh·kw for Conv2d). Parameters are drawn in state_dict
 * order, weight before bias, as PyTorch constructs them; the values still
 * differ from PyTorch's, which come from its own generator.
 *
 * BatchNorm draws nothing: weight 1, bias 0, running_mean 0, running_var 1,
 * as torch.nn.BatchNorm2d.reset_parameters leaves them.
 */
import { type Arch, type Model, type Params, paramSpecs } from '@clafusion/model-format/arch';
import { numel } from '@clafusion/model-format/tensor';
import { type Rng, toRng } from '../rng.ts';

/** The bound b of U(−b, b) for a weight of this shape ([out, ...]). */
export function defaultInitBound(weightShape: readonly number[]): number {
  const fanIn = numel(weightShape) / weightShape[0];
  return 1 / Math.sqrt(fanIn);
}

/** A freshly initialised model for `arch`; the same seed gives the same weights. */
export function initModel(arch: Arch, rngOrSeed: Rng | number): Model {
  const rng = toRng(rngOrSeed);
  const specs = paramSpecs(arch);
  const weightShapes = new Map<number, number[]>();
  for (const spec of specs) if (spec.role === 'weight') weightShapes.set(spec.layer, spec.shape);

  const params: Params = new Map();
  for (const spec of specs) {
    if (spec.role.startsWith('bn.')) {
      const value = spec.role === 'bn.weight' || spec.role === 'bn.running_var' ? 1 : 0;
      params.set(spec.name, { shape: [...spec.shape], data: new Float32Array(numel(spec.shape)).fill(value) });
      continue;
    }
    const bound = defaultInitBound(weightShapes.get(spec.layer)!);
    const data = rng.fillUniform(new Float32Array(numel(spec.shape)), -bound, bound);
    params.set(spec.name, { shape: [...spec.shape], data });
  }
  return { arch, params };
}
