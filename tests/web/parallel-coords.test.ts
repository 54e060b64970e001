import { describe, expect, it } from "vitest";
import { axisTitleLines } from "@/components/parallel-coords";

describe("parallel coordinates axis titles", () => {
  it("wrap to the space between axes, with the unit on its own line", () => {
    // 7 axes over the 900-unit chart: about 137 units, 20 characters, between neighbours
    const lines = axisTitleLines("Tokens per second (tokens/s)", 7);
    expect(lines[lines.length - 1]).toBe("(tokens/s)");
    for (const l of lines) expect(l.length).toBeLessThanOrEqual(20);
    expect(lines.slice(0, -1).join(" ")).toBe("Tokens per second");
    expect(axisTitleLines("bits", 7)).toEqual(["bits"]);
    // never more than two lines of name, cut with an ellipsis
    const long = axisTitleLines("A very long metric name that goes on and on (ms)", 12);
    expect(long).toHaveLength(3);
    expect(long[1].endsWith("…")).toBe(true);
  });
});
