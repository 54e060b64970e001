import { describe, expect, it } from "vitest";
import { magnitudeMask } from "../../workers/methods/pruning/magnitude";
import { gaussian } from "../quant/helpers";

const rows = 16;
const cols = 48;
const W = gaussian(rows * cols, 5);

describe("magnitude pruning", () => {
  it("unstructured: the smallest |W| of the whole matrix, floor(sparsity x weights) of them", () => {
    for (const s of [0.25, 0.5, 0.9]) {
      const mask = magnitudeMask(W, rows, cols, s, "unstructured");
      const k = Math.floor(rows * cols * s);
      expect(mask.reduce((a, b) => a + b, 0)).toBe(k);
      const cut = Array.from(W, Math.abs).sort((a, b) => a - b)[k - 1];
      W.forEach((v, i) => expect(mask[i] === 1).toBe(Math.abs(v) <= cut));
    }
  });

  it("2:4 keeps the two largest |W| of every four inputs of a row", () => {
    const mask = magnitudeMask(W, rows, cols, 0.5, "2:4");
    for (let g = 0; g < rows * cols; g += 4) {
      const kept = [0, 1, 2, 3].filter((i) => !mask[g + i]).map((i) => Math.abs(W[g + i]));
      const pruned = [0, 1, 2, 3].filter((i) => mask[g + i]).map((i) => Math.abs(W[g + i]));
      expect(kept.length).toBe(2);
      expect(Math.min(...kept)).toBeGreaterThanOrEqual(Math.max(...pruned));
    }
  });

  it("refuses a weight of the wrong size", () => {
    expect(() => magnitudeMask(W, rows, cols + 1, 0.5, "unstructured")).toThrow(/expected 16x49/);
  });
});
