import { describe, expect, it } from "vitest";
import { dequantize, groupCount, quantizeRtn, type Bits } from "../../workers/methods/quantization/quant-math";
import { gaussian } from "./helpers";

describe("round-to-nearest quantization", () => {
  const rows = 24;
  const cols = 200; // not a multiple of the group sizes: the last group is partial
  const w = gaussian(rows * cols, 7);
  // A few outliers so that groups differ widely in range.
  for (let i = 0; i < w.length; i += 97) w[i] *= 6;

  for (const bits of [2, 3, 4, 8] as Bits[]) {
    for (const symmetric of [true, false]) {
      for (const groupSize of [0, 32, 64, 128]) {
        it(`${bits}-bit ${symmetric ? "sym" : "asym"} group ${groupSize}: |w - ŵ| <= scale/2 everywhere`, () => {
          const qw = quantizeRtn(w, rows, cols, { bits, groupSize, symmetric });
          const groups = groupCount(cols, groupSize);
          expect(qw.scales.length).toBe(rows * groups);
          const wHat = dequantize(qw);
          let worst = 0;
          for (let r = 0; r < rows; r++) {
            for (let c = 0; c < cols; c++) {
              const g = r * groups + Math.floor(c / qw.groupSize);
              const err = Math.abs(w[r * cols + c] - wHat[r * cols + c]);
              // float32 storage of ŵ adds at most one ulp of |w|
              const bound = qw.scales[g] / 2 + 1e-6 * (Math.abs(w[r * cols + c]) + qw.scales[g]);
              worst = Math.max(worst, err / bound);
              expect(qw.q[r * cols + c]).toBeLessThanOrEqual((1 << bits) - 1);
            }
          }
          expect(worst).toBeLessThanOrEqual(1);
          if (symmetric) expect(new Set(qw.zeros)).toEqual(new Set([1 << (bits - 1)]));
          else for (const z of qw.zeros) expect(Number.isInteger(z)).toBe(true);
        });
      }
    }
  }

  it("grouping lowers the error and more bits lower it further", () => {
    const err = (bits: Bits, groupSize: number) => {
      const wHat = dequantize(quantizeRtn(w, rows, cols, { bits, groupSize, symmetric: false }));
      let s = 0;
      for (let i = 0; i < w.length; i++) s += (w[i] - wHat[i]) ** 2;
      return s;
    };
    expect(err(4, 32)).toBeLessThan(err(4, 0));
    expect(err(3, 32)).toBeGreaterThan(err(4, 32));
    expect(err(8, 32)).toBeLessThan(err(4, 32) / 100);
  });

  it("rejects bit widths and group sizes it cannot store", () => {
    expect(() => quantizeRtn(w, rows, cols, { bits: 5 as Bits, groupSize: 32, symmetric: false })).toThrow(/bits/);
    expect(() => quantizeRtn(w, rows, cols, { bits: 4, groupSize: -1, symmetric: false })).toThrow(/group size/);
    expect(() => quantizeRtn(w, rows, cols + 1, { bits: 4, groupSize: 32, symmetric: false })).toThrow(/expected/);
  });
});
