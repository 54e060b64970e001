/**
 * Pareto fronts and 2-D hypervolume, pure and browser-safe. Directions say which way is better per
 * axis ("higher" or "lower", from lib/metrics); internally both axes are turned into "lower is
 * better" by negating higher-is-better values.
 */
export type Direction = "higher" | "lower";

export interface XY {
  x: number;
  y: number;
}

const toMin = (v: number, d: Direction) => (d === "lower" ? v : -v);

/** True when a is at least as good as b on both axes and strictly better on one. */
export function dominates(a: XY, b: XY, dx: Direction, dy: Direction): boolean {
  const ax = toMin(a.x, dx), ay = toMin(a.y, dy), bx = toMin(b.x, dx), by = toMin(b.y, dy);
  return ax <= bx && ay <= by && (ax < bx || ay < by);
}

/**
 * Splits points into the non-dominated front (ordered from best x to worst x, ties by best y) and
 * the dominated rest, in O(n log n): sort by x (better first), then sweep keeping the best y seen
 * at strictly better x. Identical points do not dominate each other, so duplicates on the front
 * all stay on it.
 */
export function paretoSplit<T extends XY>(points: readonly T[], dx: Direction, dy: Direction): { front: T[]; dominated: T[] } {
  const keyed = points.map((p) => ({ p, a: toMin(p.x, dx), b: toMin(p.y, dy) }));
  keyed.sort((u, v) => u.a - v.a || u.b - v.b);
  const front: T[] = [];
  const dominated: T[] = [];
  let bestB = Infinity; // best y over points with strictly better x than the current group
  let i = 0;
  while (i < keyed.length) {
    let j = i;
    while (j < keyed.length && keyed[j].a === keyed[i].a) j++;
    // keyed[i] has the group's best y; a point is on the front when it ties that best y and no
    // point with strictly better x has a y at least as good.
    const groupB = keyed[i].b;
    for (let k = i; k < j; k++) {
      if (keyed[k].b === groupB && groupB < bestB) front.push(keyed[k].p);
      else dominated.push(keyed[k].p);
    }
    if (groupB < bestB) bestB = groupB;
    i = j;
  }
  return { front, dominated };
}

/** The worst value per axis over the points (the default hypervolume reference), or null when empty. */
export function worstPoint(points: readonly XY[], dx: Direction, dy: Direction): XY | null {
  if (points.length === 0) return null;
  let ax = -Infinity, ay = -Infinity;
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
  const rx = toMin(ref.x, dx), ry = toMin(ref.y, dy);
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
