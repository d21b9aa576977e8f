/**
 * The linear map y = x·Wᵀ for PyTorch-layout weights W [out, in], with a
 * hand-written gradient.
 *
 * Why not tf.matMul(x, W, false, true): on the wasm backend any matMul with a
 * transpose flag takes a slow path, about 10× slower than the plain product
 * (200×784 by 784×400: 55 ms vs 5 ms), and autodiff of matMul produces
 * flagged products for both gradients. Explicit transposes feed wasm's fast
 * kernel instead:
 *
 *   y  = x · transpose(W)           one copy of W per call
 *   dx = dy · W                     W is already [out, in]: no transpose
 *   dW = transpose(dy) · x          dy is only [batch, out]
 *
 * Elsewhere the flagged product is the better one: the cpu backend's
 * transpose is slow JavaScript (a training epoch of the paper-sized MLP went
 * from 28 s to 35 s with explicit transposes), and TensorFlow's native kernels
 * take the flags for free. So the choice follows the active backend.
 */
import * as tf from '@tensorflow/tfjs';

const linearWasm = tf.customGrad((...args: (tf.Tensor | tf.GradSaveFunc)[]) => {
  const [x, w, save] = args as [tf.Tensor2D, tf.Tensor2D, tf.GradSaveFunc];
  save([x, w]);
  return {
    value: tf.matMul(x, tf.transpose(w)),
    gradFunc: (dy: tf.Tensor2D, saved: tf.Tensor[]) => {
      const [xs, ws] = saved as [tf.Tensor2D, tf.Tensor2D];
      return [tf.matMul(dy, ws), tf.matMul(tf.transpose(dy), xs)];
    },
  };
}) as (x: tf.Tensor2D, w: tf.Tensor2D) => tf.Tensor2D;

/** x·Wᵀ for x [batch, in] and W [out, in]; differentiable in both. */
export function linear(x: tf.Tensor2D, w: tf.Tensor2D): tf.Tensor2D {
  return tf.getBackend() === 'wasm' ? linearWasm(x, w) : tf.matMul(x, w, false, true);
}
