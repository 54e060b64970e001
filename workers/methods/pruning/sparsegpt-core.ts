/**
 * SparseGPT (Frantar & Alistarh, arXiv 2301.00774) on one linear layer, following the reference
 * `fasterprune`: the Hessian, dead inputs, damping and the upper Cholesky factor U of H⁻¹ come from
 * ../hessian.ts (shared with GPTQ); columns are taken in blocks of 128. Unstructured: at the start
 * of each block, the mask zeroes the lowest w² / U_jj² over the whole rows x block (the block's
 * weights as the earlier blocks' error updates left them). N:M: at every M-th column, the mask
 * zeroes the N lowest w² / U_jj² of the next M columns of each row, from the current weights. Each
 * pruned column's error (w - q) / U_tt is propagated into the block's later columns at once and into
 * the columns after the block lazily, once per block (the same result as column by column).
 */
import { dampedInverseFactor, layerHessian, propagateBlockError, zeroDeadColumns } from "../hessian";
import { checkNM, lowestPerBlock, markLowest, nmOf, type SparsityPattern } from "./masks";

export interface SparseGptOptions {
  sparsity: number;
  pattern: SparsityPattern;
  /** Damping as a fraction of mean(diag H). */
  damp: number;
  /** Columns per block (the mask's comparison group and the lazy-update width); the reference uses 128. */
  blockSize: number;
}

export interface SparseGptResult {
  /** Pruned and reconstructed W [rows, cols]. */
  weight: Float32Array;
  /** Damping fraction finally used (raised when H + λI was not positive definite). */
  damp: number;
  /** Inputs never activated in calibration (their weights zeroed, as the reference). */
  deadColumns: number;
}

export function sparsegptPrune(
  weight: ArrayLike<number>,
  rows: number,
  cols: number,
  gram: Float64Array,
  samples: number,
  opts: SparseGptOptions,
): SparseGptResult {
  if (weight.length !== rows * cols) throw new Error(`weight has ${weight.length} values, expected ${rows}x${cols}`);
  const n = cols;
  const nm = nmOf(opts.pattern);
  const blockSize = Math.max(1, Math.floor(opts.blockSize));
  if (nm) {
    checkNM(cols, nm, "the weight");
    if (blockSize % nm.m !== 0) throw new Error(`SparseGPT block size ${blockSize} must be a multiple of M = ${nm.m}`);
  }
  const { H, dead } = layerHessian(gram, cols, samples, "SparseGPT");
  const W = Float64Array.from(weight);
  zeroDeadColumns(W, rows, cols, dead);
  const { U, damp } = dampedInverseFactor(H, n, opts.damp, "SparseGPT");

  const mask = new Uint8Array(rows * n);
  const scores = new Float64Array(rows * n);
  const err = new Float64Array(rows * blockSize);
  const group = nm ? new Uint32Array(nm.m) : null;
  const score = (r: number, c: number) => {
    const u = U[c * n + c];
    return (W[r * n + c] * W[r * n + c]) / (u * u);
  };
  for (let i1 = 0; i1 < n; i1 += blockSize) {
    const i2 = Math.min(i1 + blockSize, n);
    const count = i2 - i1;
    if (!nm) {
      for (let r = 0; r < rows; r++) for (let c = i1; c < i2; c++) scores[r * n + c] = score(r, c);
      lowestPerBlock(scores, rows, n, i1, i2, opts.sparsity, mask);
    }
    for (let r = 0; r < rows; r++) {
      const row = r * n;
      for (let t = i1; t < i2; t++) {
        if (nm && group && (t - i1) % nm.m === 0) {
          for (let i = 0; i < nm.m; i++) {
            group[i] = row + t + i;
            scores[row + t + i] = score(r, t + i);
          }
          markLowest(scores, group, nm.n, mask);
        }
        const w = W[row + t];
        const q = mask[row + t] ? 0 : w;
        const e = (w - q) / U[t * n + t];
        err[r * blockSize + (t - i1)] = e;
        W[row + t] = q;
        if (e === 0) continue;
        const ut = t * n;
        for (let j = t + 1; j < i2; j++) W[row + j] -= e * U[ut + j];
      }
    }
    propagateBlockError(W, rows, n, U, err, blockSize, i1, count);
  }
  // Exact zeros where pruned (float32 rounding cannot revive them).
  const out = Float32Array.from(W);
  for (let i = 0; i < out.length; i++) if (mask[i]) out[i] = 0;
  return { weight: out, damp, deadColumns: dead.length };
}
