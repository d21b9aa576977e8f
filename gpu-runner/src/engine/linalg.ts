/**
 * The few dense float64 matrix routines the fusion algorithms need. Inputs
 * are row-major; Float32Array inputs are widened on the fly, so the results
 * carry float64 precision until the caller casts the final weights.
 */
type Num = ArrayLike<number>;

/** C = A·B for A [r×k] and B [k×c]. */
export function matmul(A: Num, B: Num, r: number, k: number, c: number): Float64Array {
  const C = new Float64Array(r * c);
  for (let i = 0; i < r; i++) {
    const ci = i * c;
    for (let p = 0; p < k; p++) {
      const a = A[i * k + p];
      if (a === 0) continue;
      const bp = p * c;
      for (let j = 0; j < c; j++) C[ci + j] += a * B[bp + j];
    }
  }
  return C;
}

/** C = Aᵀ·B for A [k×r] and B [k×c]. */
export function matmulTransA(A: Num, B: Num, k: number, r: number, c: number): Float64Array {
  const C = new Float64Array(r * c);
  for (let p = 0; p < k; p++) {
    const bp = p * c;
    for (let i = 0; i < r; i++) {
      const a = A[p * r + i];
      if (a === 0) continue;
      const ci = i * c;
      for (let j = 0; j < c; j++) C[ci + j] += a * B[bp + j];
    }
  }
  return C;
}

/** Transpose of a [r×c] matrix. */
export function transpose(A: Num, r: number, c: number): Float64Array {
  const T = new Float64Array(r * c);
  for (let i = 0; i < r; i++) for (let j = 0; j < c; j++) T[j * r + i] = A[i * c + j];
  return T;
}

export function identity(p: number): Float64Array {
  const I = new Float64Array(p * p);
  for (let i = 0; i < p; i++) I[i * p + i] = 1;
  return I;
}

/** y = A·x for A [r×c]. */
export function matvec(A: Num, x: Num, r: number, c: number): Float64Array {
  const y = new Float64Array(r);
  for (let i = 0; i < r; i++) {
    let s = 0;
    for (let j = 0; j < c; j++) s += A[i * c + j] * x[j];
    y[i] = s;
  }
  return y;
}
