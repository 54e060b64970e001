/**
 * Confidence intervals as runs store them: metric `<key>` with bounds `<key>_lo` and `<key>_hi`
 * (95%; lib/metrics marks the bounds with `intervalOf`). How each interval is computed is in
 * docs/measurement.md, Speed.
 */
export const INTERVAL_LEVEL = 0.95;

export type SpeedupVerdict = "faster" | "slower" | "no measurable change";

/**
 * What a speedup interval says: "faster" when the whole interval lies above 1.0, "slower" when it
 * lies below, and "no measurable change" when it holds 1.0 (or a bound is missing).
 */
export function speedupVerdict(lo: number | null | undefined, hi: number | null | undefined): SpeedupVerdict {
  if (typeof lo !== "number" || typeof hi !== "number" || !Number.isFinite(lo) || !Number.isFinite(hi)) return "no measurable change";
  if (lo > 1) return "faster";
  if (hi < 1) return "slower";
  return "no measurable change";
}

export interface Interval {
  lo: number;
  hi: number;
}

/** The stored interval of `key` in a run's metrics, or null when the run has none. */
export function metricInterval(metrics: Readonly<Record<string, number | null | undefined>>, key: string): Interval | null {
  const lo = metrics[`${key}_lo`];
  const hi = metrics[`${key}_hi`];
  return typeof lo === "number" && typeof hi === "number" && Number.isFinite(lo) && Number.isFinite(hi) ? { lo, hi } : null;
}

/** "1.84× [1.71, 1.95]": a value with its interval, numbers formatted by `fmt`. */
export function formatWithInterval(value: number, interval: Interval | null, fmt: (x: number) => string = (x) => x.toFixed(2)): string {
  return interval ? `${fmt(value)} [${fmt(interval.lo)}, ${fmt(interval.hi)}]` : fmt(value);
}
