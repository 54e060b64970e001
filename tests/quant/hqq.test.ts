import { describe, expect, it } from "vitest";
import { hqqQuantize, meanAbsError } from "../../workers/methods/quantization/hqq-core";
import { dequantize, quantizeRtn, type Bits } from "../../workers/methods/quantization/quant-math";
import { Rng } from "../../workers/data/rng";

// Heavy-tailed weights (Student-t like), where HQQ's l_p error model matters.
const rng = new Rng(21);
const rows = 64;
const cols = 256;
const W = Float32Array.from({ length: rows * cols }, () => {
  const z = rng.normal();
  const chi = (rng.normal() ** 2 + rng.normal() ** 2 + rng.normal() ** 2) / 3;
  return (0.02 * z) / Math.sqrt(chi + 1e-3);
});

describe("HQQ", () => {
  for (const bits of [2, 3, 4] as Bits[]) {
    for (const groupSize of [32, 64]) {
      it(`${bits}-bit group ${groupSize}: lower reconstruction error than its min-max (RTN) start`, () => {
        const opts = { bits, groupSize, symmetric: false, lpNorm: 0.7, integerZeros: false };
        const init = hqqQuantize(W, rows, cols, { ...opts, iters: 1 });
        const tuned = hqqQuantize(W, rows, cols, { ...opts, iters: 20 });
        const eInit = meanAbsError(W, dequantize(init));
        const eTuned = meanAbsError(W, dequantize(tuned));
        expect(eTuned).toBeLessThan(0.97 * eInit);
        // and no worse than the zero-including min-max RTN the other methods start from
        const eRtn = meanAbsError(W, dequantize(quantizeRtn(W, rows, cols, { bits, groupSize, symmetric: false })));
        expect(eTuned).toBeLessThan(eRtn);
      });
    }
  }

  it("integer zero points stay integers in [0, 2^bits - 1] and still beat RTN", () => {
    const q = hqqQuantize(W, rows, cols, { bits: 4, groupSize: 64, symmetric: false, lpNorm: 0.7, integerZeros: true, iters: 20 });
    for (const z of q.zeros) {
      expect(Number.isInteger(z)).toBe(true);
      expect(z).toBeGreaterThanOrEqual(0);
      expect(z).toBeLessThanOrEqual(15);
    }
    const eRtn = meanAbsError(W, dequantize(quantizeRtn(W, rows, cols, { bits: 4, groupSize: 64, symmetric: false })));
    expect(meanAbsError(W, dequantize(q))).toBeLessThanOrEqual(eRtn);
  });
});
