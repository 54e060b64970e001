import { describe, expect, it } from "vitest";
import { niceAxis } from "@/components/pareto-chart";

describe("Pareto chart axes", () => {
  it("rounds a linear range out to 1-2-5 steps that cover every point", () => {
    expect(niceAxis([96.8, 183.2, 135.2], false)).toEqual({ domain: [80, 200], ticks: [80, 100, 120, 140, 160, 180, 200] });
    // 10 sits on a step: the margin moves the frame one step out so its marker is not clipped
    expect(niceAxis([10, 31], false)).toEqual({ domain: [5, 35], ticks: [5, 10, 15, 20, 25, 30, 35] });
    const small = niceAxis([0.0021, 0.0093], false);
    expect(small.domain).toEqual([0, 0.01]);
  });

  it("uses decades on a log axis and drops non-positive values", () => {
    expect(niceAxis([350_000, 4_000_000, 0], true)).toEqual({ domain: [100_000, 10_000_000], ticks: [1e5, 2e5, 5e5, 1e6, 2e6, 5e6, 1e7] });
    expect(niceAxis([1, 100], true).domain).toEqual([0.1, 1000]);
  });

  it("widens a single value and leaves an empty chart to recharts", () => {
    expect(niceAxis([5], false).domain).toEqual([4.25, 5.75]);
    expect(niceAxis([], false)).toEqual({ domain: ["auto", "auto"] });
  });
});
