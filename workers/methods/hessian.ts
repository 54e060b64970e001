/**
 * The layer Hessian shared by GPTQ (quantization) and SparseGPT (pruning), both following the
 * reference implementations (IST-DASLab gptq `fasterquant`, sparsegpt `fasterprune`):
 *  - H = 2 X Xᵀ / n from the input Gram sum over n calibration tokens;
 *  - dead inputs (diagonal 0: never activated in calibration) get H_jj = 1, and the caller zeroes
 *    their weight column;
 *  - damping λ = damp · mean(diag H) on the diagonal, raised tenfold (up to 8 tries) until H + λI
 *    is positive definite;
 *  - U, the upper Cholesky factor of (H + λI)⁻¹, which both algorithms walk column by column.
 * The scale of H (2/n over tokens here, over sequences in the references) changes neither method's
 * result: damping is relative, and only ratios of U's entries are used.
 */
import { upperCholeskyOfInverse } from "./quantization/linalg";

export interface LayerHessian {
  /** H = 2 G / n [cols, cols], row-major, with 1 on the diagonal of dead inputs. */
  H: Float64Array;
  /** Inputs whose Hessian diagonal was zero. */
  dead: number[];
}

/** H = 2 G / `samples` from the Gram sum G = Σ x xᵀ [cols, cols]; dead inputs get H_jj = 1. */
export function layerHessian(gram: Float64Array, cols: number, samples: number, method: string): LayerHessian {
  if (gram.length !== cols * cols) throw new Error(`${method}: Hessian has ${gram.length} values, expected ${cols}x${cols}`);
  if (!(samples >= 1)) throw new Error(`${method} needs at least one calibration token`);
  const n = cols;
  const H = new Float64Array(n * n);
  for (let i = 0; i < n * n; i++) H[i] = (2 * gram[i]) / samples;
  const dead: number[] = [];
  for (let j = 0; j < n; j++) {
    if (H[j * n + j] === 0) {
      H[j * n + j] = 1;
      dead.push(j);
    }
  }
  return { H, dead };
}

/** Zeroes the columns `dead` of the row-major W[rows, cols] (the references' W[:, dead] = 0). */
export function zeroDeadColumns(W: Float64Array, rows: number, cols: number, dead: readonly number[]): void {
  for (const j of dead) for (let r = 0; r < rows; r++) W[r * cols + j] = 0;
}

export interface InverseFactor {
  /** Upper Cholesky factor of (H + λI)⁻¹, row-major [cols, cols]. */
  U: Float64Array;
  /** Damping fraction finally used (raised when H + λI was not positive definite). */
  damp: number;
}

/** U = upper Cholesky factor of (H + damp·mean(diag H)·I)⁻¹, retrying with 10x the damping up to 8 times. */
export function dampedInverseFactor(H: Float64Array, n: number, damp: number, method: string): InverseFactor {
  let meanDiag = 0;
  for (let j = 0; j < n; j++) meanDiag += H[j * n + j];
  meanDiag /= n;
  let d = damp;
  for (let attempt = 0; attempt < 8; attempt++) {
    const Hd = Float64Array.from(H);
    const lambda = d * meanDiag;
    for (let j = 0; j < n; j++) Hd[j * n + j] += lambda;
    const U = upperCholeskyOfInverse(Hd, n);
    if (U) return { U, damp: d };
    d *= 10;
  }
  throw new Error(`${method}: Hessian is not positive definite even with heavy damping`);
}

/**
 * The lazy half of the OBS/GPTQ update, shared by GPTQ and SparseGPT: after columns i1..i1+count
 * of every row are done (their scaled errors in `err`, `blockSize` per row), subtract their effect
 * from all later columns, W[:, j] -= Σ err[:, s] · U[i1 + s, j] for j ≥ i1 + count.
 */
export function propagateBlockError(
  W: Float64Array,
  rows: number,
  n: number,
  U: Float64Array,
  err: Float64Array,
  blockSize: number,
  i1: number,
  count: number,
): void {
  const i2 = i1 + count;
  if (i2 >= n) return;
  for (let r = 0; r < rows; r++) {
    const row = r * n;
    for (let s = 0; s < count; s++) {
      const e = err[r * blockSize + s];
      if (e === 0) continue;
      const ut = (i1 + s) * n;
      for (let j = i2; j < n; j++) W[row + j] -= e * U[ut + j];
    }
  }
}
