/**
 * 95% confidence intervals for the latency figures (docs/measurement.md, Speed).
 *
 * - The median of independent samples (prefill, one per request): the distribution-free
 *   order-statistics interval [x_(l), x_(n+1-l)], exact under the binomial(n, 1/2) law of how
 *   many samples fall below the true median. It needs n >= 6 at 95%.
 * - The median of decode steps: steps of one request are not independent (a step's time grows with
 *   the cache length, and a slow request is slow throughout), so the request is the resampling unit:
 *   a percentile bootstrap that draws whole requests with replacement and takes the median of all
 *   their steps.
 * - A speedup (ratio of two medians from interleaved requests): a paired percentile bootstrap that
 *   draws request pairs (base request i, run request i, timed back to back) with replacement, so
 *   drift that hits both models of a pair stays paired.
 * Every bootstrap is seeded (mulberry32), so a run's interval is reproducible from its samples.
 */
import { seededRng } from "./dataset";

export const LEVEL = 0.95;
/** Percentile-bootstrap resamples; at 2,000 the 2.5% and 97.5% quantiles move by well under 1% of the interval between seeds. */
export const BOOTSTRAP_RESAMPLES = 2000;

export interface Interval {
  lo: number;
  hi: number;
}

function sortedCopy(xs: ArrayLike<number>): Float64Array {
  return Float64Array.from(xs).sort();
}

function medianOfSorted(s: Float64Array, n = s.length): number {
  if (n === 0) return NaN;
  const m = n >> 1;
  return n % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
}

/** P(Bin(n, 1/2) <= k), summed in log space so large n does not underflow. */
export function binomialHalfCdf(n: number, k: number): number {
  if (k < 0) return 0;
  if (k >= n) return 1;
  let logC = 0; // log C(n, 0)
  let sum = 0;
  const logHalfN = -n * Math.LN2;
  for (let i = 0; i <= k; i++) {
    sum += Math.exp(logC + logHalfN);
    logC += Math.log(n - i) - Math.log(i + 1);
  }
  return Math.min(1, sum);
}

/**
 * Order-statistics interval for the median: the widest symmetric rank pair (l, n+1-l) whose
 * coverage 1 - 2 P(Bin(n, 1/2) <= l-1) is still at least `level`. Null when even (min, max) covers
 * less (n < 6 at 95%). `coverage` is the exact coverage of the returned pair.
 */
export function medianInterval(xs: ArrayLike<number>, level = LEVEL): (Interval & { coverage: number }) | null {
  const n = xs.length;
  const alpha = 1 - level;
  let l = 0;
  while (l + 1 <= n - l && binomialHalfCdf(n, l) <= alpha / 2) l++;
  // l is now the largest rank with P(B <= l-1) <= alpha/2 (ranks are 1-based).
  if (l < 1) return null;
  const s = sortedCopy(xs);
  return { lo: s[l - 1], hi: s[n - l], coverage: 1 - 2 * binomialHalfCdf(n, l - 1) };
}

function percentileInterval(stats: Float64Array, level: number): Interval {
  stats.sort();
  const b = stats.length;
  const alpha = 1 - level;
  const lo = stats[Math.max(0, Math.floor((alpha / 2) * b))];
  const hi = stats[Math.min(b - 1, Math.ceil((1 - alpha / 2) * b) - 1)];
  return { lo, hi };
}

/** Median of all values of the groups at `picks` (indices into `groups`), using `buf` as scratch. */
function pooledMedian(groups: readonly ArrayLike<number>[], picks: Int32Array, buf: Float64Array): number {
  let n = 0;
  for (const g of picks) {
    const xs = groups[g];
    for (let j = 0; j < xs.length; j++) buf[n++] = xs[j];
  }
  return medianOfSorted(buf.subarray(0, n).sort(), n);
}

function maxPooledLength(groups: readonly ArrayLike<number>[]): number {
  const longest = groups.reduce((m, g) => Math.max(m, g.length), 0);
  return longest * groups.length;
}

/**
 * Percentile-bootstrap interval for the median of all values pooled over `groups` (one group per
 * request), resampling whole groups. Null with fewer than 2 groups.
 */
export function clusterBootstrapMedian(groups: readonly ArrayLike<number>[], seed: number, resamples = BOOTSTRAP_RESAMPLES, level = LEVEL): Interval | null {
  const k = groups.length;
  if (k < 2) return null;
  const rng = seededRng(seed);
  const buf = new Float64Array(maxPooledLength(groups));
  const picks = new Int32Array(k);
  const stats = new Float64Array(resamples);
  for (let b = 0; b < resamples; b++) {
    for (let i = 0; i < k; i++) picks[i] = Math.floor(rng() * k);
    stats[b] = pooledMedian(groups, picks, buf);
  }
  return percentileInterval(stats, level);
}

/**
 * Paired percentile-bootstrap interval for median(pooled base) / median(pooled run), where base[i]
 * and run[i] are the samples of the i-th interleaved request pair. Null with fewer than 2 pairs.
 */
export function pairedRatioBootstrap(
  base: readonly ArrayLike<number>[],
  run: readonly ArrayLike<number>[],
  seed: number,
  resamples = BOOTSTRAP_RESAMPLES,
  level = LEVEL,
): Interval | null {
  const k = Math.min(base.length, run.length);
  if (k < 2) return null;
  const rng = seededRng(seed);
  const bufBase = new Float64Array(maxPooledLength(base));
  const bufRun = new Float64Array(maxPooledLength(run));
  const picks = new Int32Array(k);
  const stats = new Float64Array(resamples);
  for (let b = 0; b < resamples; b++) {
    for (let i = 0; i < k; i++) picks[i] = Math.floor(rng() * k);
    stats[b] = pooledMedian(base, picks, bufBase) / pooledMedian(run, picks, bufRun);
  }
  return percentileInterval(stats, level);
}
