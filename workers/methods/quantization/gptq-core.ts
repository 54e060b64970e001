/**
 * GPTQ (Frantar et al., arXiv 2210.17323) on one linear layer, following the reference
 * implementation's `fasterquant`: H = 2 X Xᵀ / n, dead inputs zeroed, damping λ = damp·mean(diag H),
 * the upper Cholesky factor of H⁻¹, columns quantized in order with their error fed back into the
 * not-yet-quantized columns, lazily in blocks (exactly the same result as column-by-column, with the
 * bulk update done once per block). H, dead inputs, damping and the factor come from ../hessian.ts,
 * which SparseGPT shares.
 */
import { dampedInverseFactor, layerHessian, propagateBlockError, zeroDeadColumns } from "../hessian";
import { effectiveGroupSize, maxCode, minMaxParams, quantizeValue, type QuantSpec, type QuantizedWeight, validateSpec } from "./quant-math";

export interface GptqOptions extends QuantSpec {
  /** Damping as a fraction of mean(diag H). */
  damp: number;
  /** Columns per lazy-update block. */
  blockSize: number;
  /** Quantize columns in order of decreasing diag(H). */
  actOrder: boolean;
}

export interface GptqResult {
  quantized: QuantizedWeight;
  /** Damping fraction finally used (raised when H + λI was not positive definite). */
  damp: number;
  /** Inputs whose Hessian diagonal was zero (never activated in calibration). */
  deadColumns: number;
}

/**
 * Quantizes W[rows, cols] (row = output channel) given the input Gram sum G = Σ x xᵀ [cols, cols]
 * over `samples` calibration tokens.
 */
export function gptqQuantize(weight: ArrayLike<number>, rows: number, cols: number, gram: Float64Array, samples: number, opts: GptqOptions): GptqResult {
  validateSpec(opts);
  if (weight.length !== rows * cols) throw new Error(`weight has ${weight.length} values, expected ${rows}x${cols}`);
  const n = cols;
  const maxq = maxCode(opts.bits);
  const g = effectiveGroupSize(cols, opts.groupSize);
  const groups = Math.ceil(cols / g);
  const perChannel = g === cols;

  const { H, dead } = layerHessian(gram, cols, samples, "GPTQ");
  const W = Float64Array.from(weight);
  zeroDeadColumns(W, rows, cols, dead);

  // Group parameters fixed up front: per-channel always (as the reference), and static groups
  // under act-order so that groups stay contiguous in the original column order, which is the
  // only layout MatMulNBits and blocked DequantizeLinear can store.
  const scales = new Float32Array(rows * groups);
  const zeros = new Float32Array(rows * groups);
  const staticParams = perChannel || opts.actOrder;
  if (staticParams) {
    for (let r = 0; r < rows; r++) {
      for (let gi = 0; gi < groups; gi++) {
        const p = minMaxParams(W, r * n + gi * g, Math.min(g, n - gi * g), opts.bits, opts.symmetric);
        scales[r * groups + gi] = Math.fround(p.scale);
        zeros[r * groups + gi] = p.zero;
      }
    }
  }

  // Column order: perm[t] = original column quantized t-th.
  const perm = Array.from({ length: n }, (_, i) => i);
  if (opts.actOrder) perm.sort((a, b) => H[b * n + b] - H[a * n + a] || a - b);
  const Wp = new Float64Array(rows * n);
  const Hp = new Float64Array(n * n);
  for (let r = 0; r < rows; r++) for (let t = 0; t < n; t++) Wp[r * n + t] = W[r * n + perm[t]];
  for (let a = 0; a < n; a++) for (let b = 0; b < n; b++) Hp[a * n + b] = H[perm[a] * n + perm[b]];

  const { U, damp } = dampedInverseFactor(Hp, n, opts.damp, "GPTQ");

  const q = new Uint8Array(rows * n);
  const blockSize = Math.max(1, Math.floor(opts.blockSize));
  const err = new Float64Array(rows * blockSize);
  for (let i1 = 0; i1 < n; i1 += blockSize) {
    const i2 = Math.min(i1 + blockSize, n);
    const count = i2 - i1;
    for (let r = 0; r < rows; r++) {
      const row = r * n;
      for (let t = i1; t < i2; t++) {
        const col = perm[t];
        const gi = Math.floor(col / g);
        if (!staticParams && col % g === 0) {
          // Dynamic groups (no act-order, so t === col): parameters from the group's current
          // values, which carry the error feedback of every earlier column (for columns past this
          // block, all but the pending lazy update, as in the reference).
          const p = minMaxParams(Wp, row + col, Math.min(g, n - col), opts.bits, opts.symmetric);
          scales[r * groups + gi] = Math.fround(p.scale);
          zeros[r * groups + gi] = p.zero;
        }
        const scale = scales[r * groups + gi];
        const zero = zeros[r * groups + gi];
        const w = Wp[row + t];
        const code = quantizeValue(w, scale, zero, maxq);
        q[row + col] = code;
        const e = (w - (code - zero) * scale) / U[t * n + t];
        err[r * blockSize + (t - i1)] = e;
        const ut = t * n;
        for (let j = t + 1; j < i2; j++) Wp[row + j] -= e * U[ut + j];
      }
    }
    propagateBlockError(Wp, rows, n, U, err, blockSize, i1, count);
  }

  return {
    quantized: {
      rows,
      cols,
      bits: opts.bits,
      groupSize: g,
      symmetric: opts.symmetric,
      q,
      scales,
      zeros,
      integerZeros: true,
    },
    damp,
    deadColumns: dead.length,
  };
}
