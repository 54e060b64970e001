/**
 * Pareto fronts and 2-D hypervolume, pure and browser-safe. Directions say which way is better per
 * axis ("higher" or "lower", from lib/metrics); internally both axes are turned into "lower is
 * better" by negating higher-is-better values.
 */
import type { ParetoColumnGroup, ParetoGroupBy } from "./schemas/pareto";

export type Direction = "higher" | "lower";

/**
 * The run field each Pareto grouping reads: the server groups runs by its column, the explorer
 * colours baseline runs by it. A run without a value is in the group "unknown".
 */
export const PARETO_GROUP_FIELD = {
  family: "family",
  method: "methodId",
  runtime: "runtime",
  hardware: "hardwareKey",
} as const satisfies Record<ParetoColumnGroup, string>;
export const UNKNOWN_GROUP = "unknown";

/** How a parameter value reads as a group key (the same text SQLite's json_extract gives as text). */
export function paramGroupValue(v: unknown): string {
  if (v === undefined || v === null) return UNKNOWN_GROUP;
  if (typeof v === "boolean") return v ? "1" : "0";
  return typeof v === "string" ? v : JSON.stringify(v);
}

/** The group a run belongs to under `by`. */
export function paretoGroupOf(
  run: { [K in (typeof PARETO_GROUP_FIELD)[ParetoColumnGroup]]: string | null } & { params?: Record<string, unknown> | null },
  by: ParetoGroupBy,
): string {
  if (by.startsWith("param.")) return paramGroupValue(run.params?.[by.slice(6)]);
  return run[PARETO_GROUP_FIELD[by as ParetoColumnGroup]] ?? UNKNOWN_GROUP;
}

export interface XY {
  x: number;
  y: number;
}

const toMin = (v: number, d: Direction) => (d === "lower" ? v : -v);

/** True when a is at least as good as b on both axes and strictly better on one. */
export function dominates(a: XY, b: XY, dx: Direction, dy: Direction): boolean {
  const ax = toMin(a.x, dx),
    ay = toMin(a.y, dy),
    bx = toMin(b.x, dx),
    by = toMin(b.y, dy);
  return ax <= bx && ay <= by && (ax < bx || ay < by);
}

/**
 * Splits points into the non-dominated front (ordered from best x to worst x, ties by best y) and
 * the dominated rest, in O(n log n): sort by x (better first), then sweep keeping the best y seen
 * at strictly better x. The dominated list keeps the input order. Identical points do not dominate each other, so duplicates on the front
 * all stay on it.
 */
export function paretoSplit<T extends XY>(points: readonly T[], dx: Direction, dy: Direction): { front: T[]; dominated: T[] } {
  const n = points.length;
  const xs = new Float64Array(n);
  const ys = new Float64Array(n);
  for (let i = 0; i < n; i++) {
    xs[i] = points[i].x;
    ys[i] = points[i].y;
  }
  const isFront = new Uint8Array(n);
  const front = paretoFrontIndices(xs, ys, dx, dy).map((i) => {
    isFront[i] = 1;
    return points[i];
  });
  return { front, dominated: points.filter((_, i) => isFront[i] === 0) };
}

/**
 * The columnar core of paretoSplit: indices of the non-dominated points of (xs[i], ys[i]), ordered
 * from best x to worst x (ties by best y, then index).
 */
export function paretoFrontIndices(xs: ArrayLike<number>, ys: ArrayLike<number>, dx: Direction, dy: Direction): number[] {
  const n = xs.length;
  // Both axes as "lower is better", in typed arrays: sorting 90k point objects with a comparator
  // cost about 6x more than this whole function.
  const a = new Float64Array(n);
  const b = new Float64Array(n);
  const sx = dx === "lower" ? 1 : -1;
  const sy = dy === "lower" ? 1 : -1;
  for (let i = 0; i < n; i++) {
    a[i] = sx * xs[i];
    b[i] = sy * ys[i];
  }
  // Prefilter in O(n): bucket x into K ordered buckets; a point whose y is matched or beaten by a
  // point in an earlier bucket (so at strictly better x) is dominated, whatever the sort would say.
  // Only the survivors are sorted (on 90k random points: a few hundred).
  let amin = Infinity,
    amax = -Infinity;
  for (let i = 0; i < n; i++) {
    if (a[i] < amin) amin = a[i];
    if (a[i] > amax) amax = a[i];
  }
  const K = Math.max(1, Math.min(1024, n));
  const scale = amax > amin && Number.isFinite(amax - amin) ? K / (amax - amin) : 0;
  const bucket = new Uint32Array(n);
  const bucketMin = new Float64Array(K).fill(Infinity);
  for (let i = 0; i < n; i++) {
    const k = Math.min(K - 1, Math.floor((a[i] - amin) * scale));
    bucket[i] = k;
    if (b[i] < bucketMin[k]) bucketMin[k] = b[i];
  }
  const before = new Float64Array(K); // best y over all buckets strictly before k
  let run = Infinity;
  for (let k = 0; k < K; k++) {
    before[k] = run;
    if (bucketMin[k] < run) run = bucketMin[k];
  }
  const survivors: number[] = [];
  for (let i = 0; i < n; i++) if (before[bucket[i]] > b[i]) survivors.push(i);
  survivors.sort((i, j) => a[i] - a[j] || b[i] - b[j] || i - j);
  const front: number[] = [];
  const m = survivors.length;
  let bestB = Infinity; // best y over points with strictly better x than the current group
  let i = 0;
  while (i < m) {
    const ai = a[survivors[i]];
    let j = i;
    while (j < m && a[survivors[j]] === ai) j++;
    // survivors[i] has the group's best y; a point is on the front when it ties that best y and no
    // point with strictly better x has a y at least as good.
    const groupB = b[survivors[i]];
    if (groupB < bestB) {
      for (let k = i; k < j && b[survivors[k]] === groupB; k++) front.push(survivors[k]);
      bestB = groupB;
    }
    i = j;
  }
  return front;
}

/** The worst value per axis over the points (the default hypervolume reference), or null when empty. */
export function worstPoint(points: readonly XY[], dx: Direction, dy: Direction): XY | null {
  if (points.length === 0) return null;
  let ax = -Infinity,
    ay = -Infinity;
  for (const p of points) {
    ax = Math.max(ax, toMin(p.x, dx));
    ay = Math.max(ay, toMin(p.y, dy));
  }
  return { x: toMin(ax, dx), y: toMin(ay, dy) };
}

/**
 * Area dominated by the points and bounded by the reference point: the union of the rectangles
 * spanned between each point and the reference (points on the wrong side of it add nothing).
 * O(n log n); accepts dominated points too.
 */
export function hypervolume(points: readonly XY[], ref: XY, dx: Direction, dy: Direction): number {
  const rx = toMin(ref.x, dx),
    ry = toMin(ref.y, dy);
  const pts = points
    .map((p) => ({ a: toMin(p.x, dx), b: toMin(p.y, dy) }))
    .filter((p) => p.a < rx && p.b < ry)
    .sort((u, v) => u.a - v.a || u.b - v.b);
  let area = 0;
  let minB = ry;
  for (const p of pts) {
    if (p.b < minB) {
      area += (rx - p.a) * (minB - p.b);
      minB = p.b;
    }
  }
  return area;
}

/**
 * An evenly spaced, deterministic sample of at most `max` items (the first item always included),
 * so the same query draws the same dominated cloud.
 */
export function evenSample<T>(items: readonly T[], max: number): T[] {
  if (items.length <= max) return items.slice();
  if (max <= 0) return [];
  const out: T[] = [];
  for (let i = 0; i < max; i++) out.push(items[Math.floor((i * items.length) / max)]);
  return out;
}
