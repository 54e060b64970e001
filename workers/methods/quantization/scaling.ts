/**
 * Per-input-channel scaling searches of AWQ and SmoothQuant. Both produce s[K] such that
 * y = x W = (x / s)(diag(s) W): the weights' input rows are multiplied by s and 1/s is folded into
 * whatever produces x (a norm weight, a preceding linear's output columns, or an explicit Mul).
 */
import { dequantize, outputErrorGram, quantizeRtn, type QuantSpec } from "./quant-math";

/** One linear layer in [N, K] row layout (row = output channel). */
export interface RowWeight {
  name: string;
  data: Float32Array;
  rows: number;
  cols: number;
}

/** W[:, k] * s[k] for a [N, K] row-layout weight. */
export function scaleColumns(w: Float32Array, rows: number, cols: number, s: ArrayLike<number>, invert = false): Float32Array {
  const out = new Float32Array(w.length);
  for (let r = 0; r < rows; r++) {
    const base = r * cols;
    for (let c = 0; c < cols; c++) out[base + c] = invert ? w[base + c] / s[c] : w[base + c] * s[c];
  }
  return out;
}

export interface AwqSearchResult {
  scales: Float32Array;
  alpha: number;
  /** Output error Σ ||x Ŵ - x W||² over calibration tokens, at alpha = 0 (plain RTN) and at the best alpha. */
  errorRtn: number;
  errorBest: number;
}

/**
 * AWQ's grid search (llm-awq `auto_scale`): s = mean|x|^α normalised by sqrt(max(s)·min(s)),
 * α in {0, 1/n, ..., (n-1)/n}, choosing the α that minimises the summed output error of all linears
 * sharing the input, measured exactly over the calibration tokens through their Gram matrix.
 */
export function awqSearch(
  weights: readonly RowWeight[],
  meanAbsX: Float64Array,
  gram: Float64Array,
  spec: QuantSpec,
  grid: number,
): AwqSearchResult {
  const k = meanAbsX.length;
  for (const w of weights) {
    if (w.cols !== k) throw new Error(`AWQ: ${w.name} has ${w.cols} inputs, activations have ${k} channels`);
  }
  let best: AwqSearchResult | null = null;
  let errorRtn = NaN;
  for (let gidx = 0; gidx < grid; gidx++) {
    const alpha = gidx / grid;
    const s = new Float32Array(k);
    let mx = 0;
    let mn = Infinity;
    for (let c = 0; c < k; c++) {
      const v = Math.max(Math.pow(meanAbsX[c], alpha), 1e-4);
      s[c] = v;
      if (v > mx) mx = v;
      if (v < mn) mn = v;
    }
    const norm = Math.sqrt(mx * mn);
    for (let c = 0; c < k; c++) s[c] /= norm;
    let err = 0;
    for (const w of weights) {
      const scaled = scaleColumns(w.data, w.rows, w.cols, s);
      const deq = scaleColumns(dequantize(quantizeRtn(scaled, w.rows, w.cols, spec)), w.rows, w.cols, s, true);
      err += outputErrorGram(w.data, deq, w.rows, w.cols, gram);
    }
    if (gidx === 0) errorRtn = err;
    if (!best || err < best.errorBest) best = { scales: s, alpha, errorRtn, errorBest: err };
  }
  if (!best) throw new Error("AWQ: alpha grid must have at least one point");
  best.errorRtn = errorRtn;
  return best;
}

/**
 * SmoothQuant's migration scales: s_j = max|X_j|^α / max_over_linears|W_j|^(1-α), where W_j is input
 * channel j's weights across every linear reading X. Channels that never activate keep s = 1.
 */
export function smoothScales(weights: readonly RowWeight[], maxAbsX: Float64Array, alpha: number): Float32Array {
  const k = maxAbsX.length;
  const wMax = new Float64Array(k);
  for (const w of weights) {
    if (w.cols !== k) throw new Error(`SmoothQuant: ${w.name} has ${w.cols} inputs, activations have ${k} channels`);
    for (let r = 0; r < w.rows; r++) {
      const base = r * w.cols;
      for (let c = 0; c < k; c++) {
        const a = Math.abs(w.data[base + c]);
        if (a > wMax[c]) wMax[c] = a;
      }
    }
  }
  const s = new Float32Array(k);
  for (let c = 0; c < k; c++) {
    if (maxAbsX[c] === 0 || wMax[c] === 0) s[c] = 1;
    else s[c] = Math.max(Math.pow(maxAbsX[c], alpha) / Math.pow(wMax[c], 1 - alpha), 1e-5);
  }
  return s;
}
