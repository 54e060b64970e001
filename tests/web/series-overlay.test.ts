import { describe, expect, it } from "vitest";
import { smoothSeries } from "@/components/series-overlay";

describe("time-series smoothing", () => {
  it("is the raw series at weight 0 and a debiased exponential moving average otherwise", () => {
    const v = [4, 2, 6, 2];
    expect(smoothSeries(v, 0)).toEqual(v);
    const s = smoothSeries(v, 0.5);
    // debiased: the first point is the first value, not pulled toward zero
    expect(s[0]).toBe(4);
    // EMA with weight 0.5: 0.5*4*0.5 + 0.5*2 = 2 over debias 0.75 -> 2.6667
    expect(s[1]).toBeCloseTo((0.5 * 0.5 * 4 + 0.5 * 2) / 0.75, 12);
    expect(smoothSeries([3, 3, 3, 3], 0.9)).toEqual([3, 3, 3, 3].map(() => expect.closeTo(3, 12)));
  });
});
