import { describe, expect, it } from "vitest";
import { binomialHalfCdf, clusterBootstrapMedian, medianInterval, pairedRatioBootstrap } from "@/workers/eval/intervals";
import { seededRng } from "@/workers/eval/dataset";
import { formatWithInterval, metricInterval, speedupVerdict } from "@/lib/metrics/intervals";
import { getMetric, isAuxiliaryMetric, PICKABLE_METRICS } from "@/lib/metrics";

const range = (n: number) => Array.from({ length: n }, (_, i) => i + 1);

describe("order-statistics interval of a median", () => {
  it("binomial(n, 1/2) cdf", () => {
    expect(binomialHalfCdf(5, 0)).toBeCloseTo(1 / 32, 12);
    expect(binomialHalfCdf(15, 3)).toBeCloseTo((1 + 15 + 105 + 455) / 32768, 12);
    expect(binomialHalfCdf(4000, 2000)).toBeGreaterThan(0.5);
    expect(binomialHalfCdf(10, 10)).toBe(1);
  });

  it("picks the 4th and 12th of 15 samples (coverage 96.5%) and refuses fewer than 6", () => {
    const r = medianInterval([9, 1, 14, 3, 7, 12, 2, 15, 5, 11, 4, 13, 6, 10, 8])!;
    expect([r.lo, r.hi]).toEqual([4, 12]);
    expect(r.coverage).toBeCloseTo(1 - 2 * binomialHalfCdf(15, 3), 12);
    expect(r.coverage).toBeGreaterThanOrEqual(0.95);
    expect(medianInterval(range(5))).toBeNull();
    const six = medianInterval(range(6))!;
    expect([six.lo, six.hi, six.coverage]).toEqual([1, 6, 1 - 2 / 64]);
  });

  it("covers the true median about 95% of the time or more (simulated)", () => {
    const rng = seededRng(42);
    let covered = 0;
    const trials = 2000;
    for (let t = 0; t < trials; t++) {
      // exponential samples: median ln 2
      const xs = Array.from({ length: 15 }, () => -Math.log(1 - rng()));
      const r = medianInterval(xs)!;
      if (r.lo <= Math.LN2 && Math.LN2 <= r.hi) covered++;
    }
    expect(covered / trials).toBeGreaterThan(0.945);
    expect(covered / trials).toBeLessThan(0.985);
  });
});

describe("bootstrap intervals", () => {
  // A step's time grows with the cache length, and a request-level factor moves all steps of a request together.
  const requests = (seed: number, n: number, steps: number, scale: number, between = 0.2) => {
    const rng = seededRng(seed);
    return Array.from({ length: n }, () => {
      const slow = 1 + between * rng();
      return Array.from({ length: steps }, (_, i) => scale * slow * (1 + (0.1 * i) / steps) * (1 + 0.02 * rng()));
    });
  };

  it("request bootstrap of the pooled median is seeded, brackets the median and is wider than an i.i.d. one", () => {
    const groups = requests(1, 15, 32, 2, 0.5);
    const a = clusterBootstrapMedian(groups, 7)!;
    expect(clusterBootstrapMedian(groups, 7)).toEqual(a);
    const pooled = groups.flat().sort((x, y) => x - y);
    const med = (pooled[239] + pooled[240]) / 2;
    expect(a.lo).toBeLessThanOrEqual(med);
    expect(a.hi).toBeGreaterThanOrEqual(med);
    // Treating 480 correlated steps as independent would give a narrower (overconfident) interval.
    const iid = medianInterval(pooled)!;
    expect(a.hi - a.lo).toBeGreaterThan(iid.hi - iid.lo);
    expect(clusterBootstrapMedian(groups.slice(0, 1), 7)).toBeNull();
  });

  it("paired ratio bootstrap: a model twice as fast is faster, the same model is no measurable change", () => {
    const base = requests(2, 15, 32, 2);
    const half = base.map((r) => r.map((x) => x / 2));
    const twice = pairedRatioBootstrap(base, half, 3)!;
    // Perfectly paired: every resample's ratio is exactly 2.
    expect(twice.lo).toBeCloseTo(2, 9);
    expect(twice.hi).toBeCloseTo(2, 9);
    expect(speedupVerdict(twice.lo, twice.hi)).toBe("faster");
    const same = pairedRatioBootstrap(base, requests(3, 15, 32, 2), 3)!;
    expect(same.lo).toBeLessThan(1);
    expect(same.hi).toBeGreaterThan(1);
    expect(speedupVerdict(same.lo, same.hi)).toBe("no measurable change");
  });
});

describe("stored intervals", () => {
  it("speedupVerdict reads an interval against 1.0", () => {
    expect(speedupVerdict(1.02, 1.3)).toBe("faster");
    expect(speedupVerdict(0.7, 0.98)).toBe("slower");
    expect(speedupVerdict(0.9, 1.1)).toBe("no measurable change");
    expect(speedupVerdict(1, 1.2)).toBe("no measurable change");
    expect(speedupVerdict(undefined, 1.2)).toBe("no measurable change");
  });

  it("bounds are registered as intervals of their parent and left out of pickers", () => {
    for (const parent of ["prefill_ms", "decode_ms_per_token", "speedup"]) {
      for (const b of ["lo", "hi"] as const) {
        const m = getMetric(`${parent}_${b}`)!;
        expect(m.intervalOf).toBe(parent);
        expect(m.bound).toBe(b);
        expect(m.unit).toBe(getMetric(parent)!.unit);
        expect(isAuxiliaryMetric(m.key)).toBe(true);
      }
    }
    expect(isAuxiliaryMetric("bench_prompt_length")).toBe(true);
    expect(isAuxiliaryMetric("speedup")).toBe(false);
    expect(PICKABLE_METRICS.some((m) => m.intervalOf)).toBe(false);
    expect(metricInterval({ speedup: 1.5, speedup_lo: 1.2, speedup_hi: 1.8 }, "speedup")).toEqual({ lo: 1.2, hi: 1.8 });
    expect(metricInterval({ speedup: 1.5 }, "speedup")).toBeNull();
    expect(formatWithInterval(1.5, { lo: 1.2, hi: 1.8 })).toBe("1.50 [1.20, 1.80]");
  });
});
