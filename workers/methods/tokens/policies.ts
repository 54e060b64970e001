/**
 * The eviction rules of the token and KV-cache family, as pure functions over cache lengths and
 * attention scores (tests/tokens compare them with plain references). Indices are cache positions;
 * every returned list is ascending.
 *
 *  - StreamingLLM (mit-han-lab/streaming-llm, StartRecentKVCache): the first `sinks` and the last
 *    `window` entries once the cache holds more than sinks + window.
 *  - H2O (FMInference/H2O, H2OKVCache_LayerWise): per head, attention probability accumulated over
 *    every query so far; over budget, the `recent` most recent entries plus the top
 *    (budget - recent) of the rest by accumulated score.
 *  - SnapKV (FasterDecoding/SnapKV, snapkv_utils.py): at prefill of a prompt longer than the budget,
 *    the attention of the last `window` prompt queries to the prefix, summed over those queries,
 *    average-pooled with a 1-D kernel (stride 1, padding kernel//2, padding counted), top
 *    (budget - window) prefix positions per head, plus the window itself.
 * Scores come per query head; with grouped-query attention the heads of one kv group are summed
 * (`groupScores`), since a kv head's entry is kept or evicted for the whole group.
 */

/** StreamingLLM: the cache positions kept of a cache of `length` entries. */
export function streamingKeep(length: number, sinks: number, window: number): number[] {
  if (length <= sinks + window) return range(0, length);
  return [...range(0, sinks), ...range(length - window, length)];
}

/** Sums per-query-head scores [numHeads][length] into per-kv-head scores [numKvHeads][length]. */
export function groupScores(perHead: readonly Float64Array[] | readonly Float32Array[], numKvHeads: number): Float64Array[] {
  const nh = perHead.length;
  if (nh % numKvHeads !== 0) throw new Error(`${nh} query heads do not divide into ${numKvHeads} kv heads`);
  const rep = nh / numKvHeads;
  const len = perHead[0]?.length ?? 0;
  const out: Float64Array[] = [];
  for (let g = 0; g < numKvHeads; g++) {
    const s = new Float64Array(len);
    for (let r = 0; r < rep; r++) {
      const h = perHead[g * rep + r];
      for (let i = 0; i < len; i++) s[i] += h[i];
    }
    out.push(s);
  }
  return out;
}

/** Indices of the k largest values of scores[from, to) (ties: the lower index first), ascending. */
export function topK(scores: ArrayLike<number>, k: number, from = 0, to = scores.length): number[] {
  const idx = range(from, to);
  idx.sort((a, b) => scores[b] - scores[a] || a - b);
  return idx.slice(0, Math.max(0, k)).sort((a, b) => a - b);
}

/** H2O: kept positions of one kv head with accumulated `scores` (one per cache entry). */
export function h2oKeep(scores: ArrayLike<number>, budget: number, recent: number): number[] {
  const len = scores.length;
  if (len <= budget) return range(0, len);
  const r = Math.min(recent, budget);
  return [...topK(scores, budget - r, 0, len - r), ...range(len - r, len)];
}

/** The recent share of an H2O budget (H2O's recent_ratio, rounded; the rest are heavy hitters). */
export function h2oRecent(budget: number, recentRatio: number): number {
  return Math.min(budget, Math.round(budget * recentRatio));
}

/** avg_pool1d(x, kernel, stride 1, padding kernel//2) with zero padding counted, as torch does by default. */
export function avgPool1d(x: ArrayLike<number>, kernel: number): Float64Array {
  const pad = Math.floor(kernel / 2);
  const n = x.length;
  const outLen = n + 2 * pad - kernel + 1;
  const out = new Float64Array(outLen);
  for (let o = 0; o < outLen; o++) {
    let s = 0;
    for (let j = 0; j < kernel; j++) {
      const i = o - pad + j;
      if (i >= 0 && i < n) s += x[i];
    }
    out[o] = s / kernel;
  }
  return out;
}

/**
 * SnapKV: kept positions of one kv head of a prompt of `length` entries, from `windowScores` (the
 * attention of the last `window` queries, summed over them, one value per position). A prompt within
 * the budget keeps everything.
 */
export function snapkvKeep(windowScores: ArrayLike<number>, length: number, budget: number, window: number, kernel: number): number[] {
  if (length <= budget) return range(0, length);
  if (window >= budget) throw new Error(`SnapKV window ${window} must be below the budget ${budget}`);
  const prefix = Array.from({ length: length - window }, (_, i) => windowScores[i]);
  const pooled = avgPool1d(prefix, kernel);
  return [...topK(pooled, budget - window, 0, Math.min(pooled.length, prefix.length)), ...range(length - window, length)];
}

export function range(from: number, to: number): number[] {
  const out: number[] = [];
  for (let i = from; i < to; i++) out.push(i);
  return out;
}
