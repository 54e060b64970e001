import { describe, expect, it } from "vitest";
import { axisTitleLines } from "@/components/parallel-coords";

describe("parallel coordinates axis titles", () => {
  it("wrap to the space between axes, with the unit on its own line", () => {
    // 7 axes over the 900-unit chart: about 127 units, 14 bold characters, between neighbours
    const lines = axisTitleLines("Tokens per second (tokens/s)", 7);
    expect(lines).toEqual(["Tokens per", "second", "(tokens/s)"]);
    for (const l of axisTitleLines("Effective bits (stored) (bits)", 7)) expect(l.length).toBeLessThanOrEqual(14);
    expect(axisTitleLines("bits", 7)).toEqual(["bits"]);
    // never more than two lines of name, cut with an ellipsis
    const long = axisTitleLines("A very long metric name that goes on and on (ms)", 12);
    expect(long).toHaveLength(3);
    expect(long[1].endsWith("…")).toBe(true);
  });
});
