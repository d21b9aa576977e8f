/**
 * Teachers for knowledge distillation (docs/algorithm.md §10.2): one or more
 * trained models whose mean logit is the soft target, computed in eval mode
 * (BatchNorm on running statistics) on the student's very batch, augmentation
 * included.
 *
 * An MLP's `apply` yields logits, while the official MLP returns
 * log_softmax(logits); the two differ by a per-row constant, which softmax(·/T)
 * ignores, so the distillation loss is the same either way.
 */
import * as tf from '@tensorflow/tfjs';
import { type Arch, type Model, validateParams } from '@clafusion/model-format/arch';
import { FusionError } from '@clafusion/model-format/errors';
import { numel } from '@clafusion/model-format/tensor';
import { familyNet } from './families.ts';
import { uploadParams } from './params.ts';

export class Teachers {
  private readonly uploaded: { arch: Arch; params: tf.Tensor[] }[] = [];

  /** Uploads every teacher once; `dispose()` frees them. */
  constructor(models: readonly Model[], student: Arch) {
    if (models.length === 0) throw new FusionError('INVALID_ARGUMENT', 'distillation needs at least one teacher', { field: 'teacher' });
    models.forEach((m, k) => {
      validateParams(m.arch, m.params);
      if (m.arch.classes !== student.classes || numel(m.arch.input) !== numel(student.input)) {
        throw new FusionError(
          'INCOMPATIBLE_MODELS',
          `teacher ${k + 1} maps ${numel(m.arch.input)} inputs to ${m.arch.classes} classes, the student ` +
            `${numel(student.input)} to ${student.classes}`,
          { field: 'teacher', model: k },
        );
      }
    });
    try {
      for (const m of models) this.uploaded.push({ arch: m.arch, params: uploadParams(m) });
    } catch (e) {
      this.dispose();
      throw e;
    }
  }

  /** Mean of the teachers' logits on `x` ([batch, features]); not differentiated. */
  meanLogits(x: tf.Tensor2D): tf.Tensor2D {
    return tf.tidy(() => {
      let sum: tf.Tensor2D | undefined;
      for (const t of this.uploaded) {
        const { logits } = familyNet(t.arch).apply(t.arch, t.params, x, { training: false });
        sum = sum === undefined ? logits : tf.add(sum, logits);
      }
      return tf.div(sum!, this.uploaded.length);
    });
  }

  dispose(): void {
    for (const t of this.uploaded) tf.dispose(t.params);
    this.uploaded.length = 0;
  }
}
