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
  /** The search loss at alpha = 0 (plain RTN) and at the best alpha. */
  errorRtn: number;
  errorBest: number;
  /** The loss at every grid point, alpha = i / grid. */
  losses: number[];
}

/** AWQ's candidate scales: s = max(mean|x|^α, 1e-4), normalised by sqrt(max(s)·min(s)). */
export function awqScales(meanAbsX: ArrayLike<number>, alpha: number): Float32Array {
  const k = meanAbsX.length;
  const s = new Float64Array(k);
  let mx = 0;
  let mn = Infinity;
  for (let c = 0; c < k; c++) {
    const v = Math.max(Math.pow(meanAbsX[c], alpha), 1e-4);
    s[c] = v;
    if (v > mx) mx = v;
    if (v < mn) mn = v;
  }
  const norm = Math.sqrt(mx * mn);
  return Float32Array.from(s, (v) => v / norm);
}

/** Q(W diag(s)) diag(1/s): what the linear computes on x once s is folded and the weight quantized. */
export function scaledQuantized(w: RowWeight, s: ArrayLike<number>, spec: QuantSpec): Float32Array {
  const scaled = scaleColumns(w.data, w.rows, w.cols, s);
  return scaleColumns(dequantize(quantizeRtn(scaled, w.rows, w.cols, spec)), w.rows, w.cols, s, true);
}

/**
 * AWQ's grid search (llm-awq `_search_module_scale`): for α in {0, 1/n, ..., (n-1)/n} every linear
 * sharing the input gets Q(W diag(s)) diag(1/s) with s = awqScales(mean|x|, α), `loss` scores the
 * candidate weights (in `weights` order), and the α with the smallest loss wins (the first on ties).
 */
export async function awqSearchBy(
  weights: readonly RowWeight[],
  meanAbsX: ArrayLike<number>,
  spec: QuantSpec,
  grid: number,
  loss: (candidate: Float32Array[]) => number | Promise<number>,
): Promise<AwqSearchResult> {
  const k = meanAbsX.length;
  for (const w of weights) {
    if (w.cols !== k) throw new Error(`AWQ: ${w.name} has ${w.cols} inputs, activations have ${k} channels`);
  }
  if (!(grid >= 1)) throw new Error("AWQ: alpha grid must have at least one point");
  const losses: number[] = [];
  let best = 0;
  let bestScales: Float32Array | null = null;
  for (let i = 0; i < grid; i++) {
    const s = awqScales(meanAbsX, i / grid);
    losses.push(await loss(weights.map((w) => scaledQuantized(w, s, spec))));
    if (i === 0 || losses[i] < losses[best]) {
      best = i;
      bestScales = s;
    }
  }
  return { scales: bestScales!, alpha: best / grid, errorRtn: losses[0], errorBest: losses[best], losses };
}

/**
 * The search with module2inspect = the linears themselves (llm-awq's v->o and up->down pairs), run
 * synchronously: the loss is their summed output error Σ ||x Ŵ - x W||² over the calibration tokens, exact through the
 * inputs' Gram matrix.
 */
export function awqSearch(weights: readonly RowWeight[], meanAbsX: Float64Array, gram: Float64Array, spec: QuantSpec, grid: number): AwqSearchResult {
  for (const w of weights) {
    if (w.cols !== meanAbsX.length) throw new Error(`AWQ: ${w.name} has ${w.cols} inputs, activations have ${meanAbsX.length} channels`);
  }
  if (!(grid >= 1)) throw new Error("AWQ: alpha grid must have at least one point");
  const losses: number[] = [];
  let best = 0;
  for (let i = 0; i < grid; i++) {
    const s = awqScales(meanAbsX, i / grid);
    losses.push(weights.reduce((e, w) => e + outputErrorGram(w.data, scaledQuantized(w, s, spec), w.rows, w.cols, gram), 0));
    if (losses[i] < losses[best]) best = i;
  }
  return { scales: awqScales(meanAbsX, best / grid), alpha: best / grid, errorRtn: losses[0], errorBest: losses[best], losses };
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
