/**
 * AWQ's weight clipping (llm-awq `auto_clip_layer`): per output channel and quantization group, the
 * range [-m, m] with m = max|w| · (1 - i/n_grid), i < max_shrink · n_grid, that minimises the
 * group's share of the output error, ||x_g (Q(clamp(w_g)) - w_g)ᵀ||² over the calibration tokens.
 * The error is computed exactly from the diagonal blocks of the input's Gram matrix.
 */
import { effectiveGroupSize, maxCode, minMaxParams, quantizeValue, type QuantSpec } from "./quant-math";

export interface ClipOptions {
  /** Shrink steps per unit (llm-awq: 20). */
  grid: number;
  /** Largest fraction of max|w| removed (llm-awq: 0.5). */
  maxShrink: number;
}

export const AWQ_CLIP: ClipOptions = { grid: 20, maxShrink: 0.5 };

export interface ClipResult {
  /** The clamped weight, [N, K] rows. */
  weight: Float32Array;
  /** Chosen clip value per [row, group]. */
  maxVal: Float32Array;
  /** Σ over rows and groups of the group output error, unclipped and at the chosen clip. */
  errorBefore: number;
  errorAfter: number;
}

/** Values of one group after the project's round-to-nearest (quantizeRtn's arithmetic), dequantized. */
function quantizeGroup(v: Float64Array, len: number, bits: number, out: Float64Array): void {
  const p = minMaxParams(v, 0, len, bits, false);
  const scale = Math.fround(p.scale);
  const maxq = maxCode(bits);
  for (let i = 0; i < len; i++) out[i] = (quantizeValue(v[i], scale, p.zero, maxq) - p.zero) * scale;
}

/** d G_gg dᵀ for the group starting at column `c0`, with G row-major [K, K]. */
function groupError(d: Float64Array, len: number, gram: Float64Array, k: number, c0: number): number {
  let total = 0;
  for (let i = 0; i < len; i++) {
    const di = d[i];
    if (di === 0) continue;
    const gi = (c0 + i) * k + c0;
    let acc = gram[gi + i] * di;
    for (let j = i + 1; j < len; j++) acc += 2 * gram[gi + j] * d[j];
    total += di * acc;
  }
  return total;
}

/**
 * Searches the clip of every [row, group] of W [rows, cols] for inputs with Gram matrix `gram`
 * ([cols, cols], of the activations this weight multiplies). Shrink 0 (no clipping) is always a
 * candidate and ties keep the smaller shrink, so no group's error grows.
 */
export function autoClip(w: Float32Array, rows: number, cols: number, gram: Float64Array, spec: QuantSpec, opts: ClipOptions = AWQ_CLIP): ClipResult {
  if (spec.symmetric) throw new Error("AWQ clipping follows the reference's asymmetric quantizer");
  if (gram.length !== cols * cols) throw new Error(`Gram matrix has ${gram.length} entries, expected ${cols}x${cols}`);
  const g = effectiveGroupSize(cols, spec.groupSize);
  const groups = Math.ceil(cols / g);
  const steps = Math.floor(opts.maxShrink * opts.grid);
  const weight = Float32Array.from(w);
  const maxVal = new Float32Array(rows * groups);
  const orig = new Float64Array(g);
  const clamped = new Float64Array(g);
  const deq = new Float64Array(g);
  const d = new Float64Array(g);
  let errorBefore = 0;
  let errorAfter = 0;
  for (let r = 0; r < rows; r++) {
    for (let gi = 0; gi < groups; gi++) {
      const c0 = gi * g;
      const len = Math.min(g, cols - c0);
      let m = 0;
      for (let i = 0; i < len; i++) {
        orig[i] = w[r * cols + c0 + i];
        m = Math.max(m, Math.abs(orig[i]));
      }
      let best = 0;
      let bestErr = Infinity;
      let bestMax = m;
      for (let s = 0; s < Math.max(1, steps); s++) {
        // float32 like the weights, so the value stored below is the value scored here
        const mv = Math.fround(m * (1 - s / opts.grid));
        for (let i = 0; i < len; i++) clamped[i] = Math.min(mv, Math.max(-mv, orig[i]));
        quantizeGroup(clamped, len, spec.bits, deq);
        for (let i = 0; i < len; i++) d[i] = deq[i] - orig[i];
        const err = groupError(d, len, gram, cols, c0);
        if (s === 0) errorBefore += err;
        if (err < bestErr) {
          best = s;
          bestErr = err;
          bestMax = mv;
        }
      }
      errorAfter += bestErr;
      maxVal[r * groups + gi] = bestMax;
      if (best > 0) for (let i = 0; i < len; i++) weight[r * cols + c0 + i] = Math.min(bestMax, Math.max(-bestMax, orig[i]));
    }
  }
  return { weight, maxVal, errorBefore, errorAfter };
}

/**
 * The linears the reference leaves unclipped: q and k, whose errors pass through the q·k product
 * ("due to qk bmm, it is hard to clip precisely"); matched on the weight name like llm-awq.
 */
export function skipsClip(weightName: string): boolean {
  return /(^|[./_])(q_|k_)|query|key|Wqkv/.test(weightName);
}

/** diag(1/s) G diag(1/s): the Gram matrix of x / s. */
export function scaleGram(gram: Float64Array, s: ArrayLike<number>): Float64Array {
  const k = s.length;
  const out = new Float64Array(k * k);
  for (let i = 0; i < k; i++) for (let j = 0; j < k; j++) out[i * k + j] = gram[i * k + j] / (s[i] * s[j]);
  return out;
}
