/** Dense float64 linear algebra on row-major square matrices, enough for GPTQ's Hessian inverse. */

/** In-place lower Cholesky factor of a symmetric positive-definite A (upper triangle zeroed). Returns false if A is not PD. */
export function choleskyLower(a: Float64Array, n: number): boolean {
  for (let j = 0; j < n; j++) {
    const rj = j * n;
    let d = a[rj + j];
    for (let k = 0; k < j; k++) d -= a[rj + k] * a[rj + k];
    if (!(d > 0) || !Number.isFinite(d)) return false;
    const ljj = Math.sqrt(d);
    a[rj + j] = ljj;
    for (let i = j + 1; i < n; i++) {
      const ri = i * n;
      let s = a[ri + j];
      for (let k = 0; k < j; k++) s -= a[ri + k] * a[rj + k];
      a[ri + j] = s / ljj;
    }
    for (let k = j + 1; k < n; k++) a[rj + k] = 0;
  }
  return true;
}

/** Inverse of a lower-triangular L (returns a new lower-triangular matrix). */
export function invertLower(l: Float64Array, n: number): Float64Array {
  const inv = new Float64Array(n * n);
  for (let j = 0; j < n; j++) {
    inv[j * n + j] = 1 / l[j * n + j];
    for (let i = j + 1; i < n; i++) {
      let s = 0;
      const ri = i * n;
      for (let k = j; k < i; k++) s += l[ri + k] * inv[k * n + j];
      inv[ri + j] = -s / l[ri + i];
    }
  }
  return inv;
}

/**
 * Upper Cholesky factor U of A⁻¹ (A⁻¹ = Uᵀ U) for symmetric positive-definite A, the matrix GPTQ
 * walks column by column. Returns null when A is not positive definite.
 */
export function upperCholeskyOfInverse(a: Float64Array, n: number): Float64Array | null {
  const l = Float64Array.from(a);
  if (!choleskyLower(l, n)) return null;
  const li = invertLower(l, n);
  // A⁻¹ = L⁻ᵀ L⁻¹, i.e. (A⁻¹)ij = Σ_k (L⁻¹)ki (L⁻¹)kj; rows of the transpose keep the k loop contiguous.
  const lt = new Float64Array(n * n);
  for (let i = 0; i < n; i++) for (let k = 0; k <= i; k++) lt[k * n + i] = li[i * n + k];
  const inv = new Float64Array(n * n);
  for (let i = 0; i < n; i++) {
    const ri = i * n;
    for (let j = 0; j <= i; j++) {
      let s = 0;
      const rj = j * n;
      for (let k = i; k < n; k++) s += lt[ri + k] * lt[rj + k];
      inv[i * n + j] = s;
      inv[j * n + i] = s;
    }
  }
  if (!choleskyLower(inv, n)) return null;
  // U = Lᵀ of the inverse's factor.
  const u = new Float64Array(n * n);
  for (let i = 0; i < n; i++) for (let j = 0; j <= i; j++) u[j * n + i] = inv[i * n + j];
  return u;
}
