/**
 * HQQ, Half-Quadratic Quantization (Badri & Shaji, 2023, mobiusml.github.io/hqq_blog), calibration
 * free. Per group, starting from min-max parameters, it alternates (as the hqq library's
 * `optimize_weights_proximal_legacy`):
 *   Wq = clamp(round(W/s + z)),  We = shrink_lp(W - (Wq - z)s, β),  z = mean(Wq - (W - We)/s),  β *= κ
 * where shrink_lp is the generalised soft-threshold of the l_p (p < 1) proximal step, so the zero
 * point is fitted to a sparsity-promoting error model rather than to the squared error. The loop
 * stops when the mean absolute reconstruction error stops falling; the best zero is kept.
 */
import { effectiveGroupSize, maxCode, quantizeValue, type QuantSpec, type QuantizedWeight, validateSpec } from "./quant-math";

export interface HqqOptions extends QuantSpec {
  iters: number;
  /** p of the l_p error norm (p <= 1). */
  lpNorm: number;
  /** Initial β and its growth per iteration (the hqq library's defaults 10 and 1.01). */
  beta?: number;
  kappa?: number;
  /** Constrain zero points to integers (for containers that store integer zero points). */
  integerZeros: boolean;
}

export function hqqQuantize(w: ArrayLike<number>, rows: number, cols: number, opts: HqqOptions): QuantizedWeight {
  validateSpec(opts);
  if (opts.symmetric) throw new Error("HQQ optimises the zero point; it is asymmetric by construction");
  if (w.length !== rows * cols) throw new Error(`weight has ${w.length} values, expected ${rows}x${cols}`);
  const g = effectiveGroupSize(cols, opts.groupSize);
  const groups = Math.ceil(cols / g);
  const maxq = maxCode(opts.bits);
  const p = opts.lpNorm;
  const out: QuantizedWeight = {
    rows,
    cols,
    bits: opts.bits,
    groupSize: g,
    symmetric: false,
    q: new Uint8Array(rows * cols),
    scales: new Float32Array(rows * groups),
    zeros: new Float32Array(rows * groups),
    integerZeros: opts.integerZeros,
  };
  const wq = new Float64Array(g);
  for (let r = 0; r < rows; r++) {
    for (let gi = 0; gi < groups; gi++) {
      const start = r * cols + gi * g;
      const len = Math.min(g, cols - gi * g);
      let lo = Infinity;
      let hi = -Infinity;
      for (let i = 0; i < len; i++) {
        const v = w[start + i];
        if (v < lo) lo = v;
        if (v > hi) hi = v;
      }
      // hqq's init: the group's own range, s = range / maxq. Integer zero points must lie in
      // [0, maxq], which only a range containing 0 guarantees.
      if (opts.integerZeros) {
        lo = Math.min(lo, 0);
        hi = Math.max(hi, 0);
      }
      const scale = Math.fround(hi > lo ? (hi - lo) / maxq : Math.abs(hi) > 0 ? Math.abs(hi) : 1);
      const fix = (z: number) => (opts.integerZeros ? Math.min(maxq, Math.max(0, Math.round(z))) : Math.fround(z));
      let zero = fix(hi > lo ? -lo / scale : 0);
      let beta = opts.beta ?? 10;
      const kappa = opts.kappa ?? 1.01;
      let bestZero = zero;
      let bestErr = Infinity;
      for (let it = 0; it < opts.iters; it++) {
        let absErr = 0;
        let zsum = 0;
        for (let i = 0; i < len; i++) {
          const v = w[start + i];
          const code = quantizeValue(v, scale, zero, maxq);
          wq[i] = code;
          const e = v - (code - zero) * scale;
          absErr += Math.abs(e);
          const ae = Math.abs(e);
          const shrunk = Math.sign(e) * Math.max(0, ae - Math.pow(ae + 1e-8, p - 1) / beta);
          zsum += code - (v - shrunk) / scale;
        }
        absErr /= len;
        if (absErr < bestErr) {
          bestErr = absErr;
          bestZero = zero;
        } else break;
        zero = fix(zsum / len);
        beta *= kappa;
      }
      out.scales[r * groups + gi] = scale;
      out.zeros[r * groups + gi] = bestZero;
      for (let i = 0; i < len; i++) out.q[start + i] = quantizeValue(w[start + i], scale, bestZero, maxq);
    }
  }
  return out;
}

/** Mean |W - Ŵ| for min-max init (the HQQ starting point) and any result, for comparisons. */
export function meanAbsError(a: ArrayLike<number>, b: ArrayLike<number>): number {
  let s = 0;
  for (let i = 0; i < a.length; i++) s += Math.abs(a[i] - b[i]);
  return s / a.length;
}
