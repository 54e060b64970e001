import { describe, expect, it } from "vitest";
import { magnitudeMask } from "../../workers/methods/pruning/magnitude";
import { gramDiagonal, wandaMask } from "../../workers/methods/pruning/wanda";
import { gaussian } from "../quant/helpers";

const rows = 20;
const cols = 64;
const T = 90;
const W = gaussian(rows * cols, 7);
// inputs with very different channel scales, so activations reorder the magnitude ranking
const X = gaussian(T * cols, 8).map((v, i) => v * (1 + ((i % cols) % 9) * 1.5));

function gram(): Float64Array {
  const g = new Float64Array(cols * cols);
  for (let t = 0; t < T; t++) for (let i = 0; i < cols; i++) for (let j = 0; j < cols; j++) g[i * cols + j] += X[t * cols + i] * X[t * cols + j];
  return g;
}

/** The paper's rule, written plainly: S = |W| * ||X_j||_2, per row the int(cols * s) smallest (sorted ascending, stable). */
function referenceMask(sparsity: number, nm?: { n: number; m: number }): Uint8Array {
  const norm = Array.from({ length: cols }, (_, j) => {
    let s = 0;
    for (let t = 0; t < T; t++) s += X[t * cols + j] ** 2;
    return Math.sqrt(s);
  });
  const mask = new Uint8Array(rows * cols);
  for (let r = 0; r < rows; r++) {
    const score = (c: number) => Math.abs(W[r * cols + c]) * norm[c];
    const groups = nm ? Array.from({ length: cols / nm.m }, (_, g) => [...Array(nm.m).keys()].map((i) => g * nm.m + i)) : [[...Array(cols).keys()]];
    for (const cs of groups) {
      const k = nm ? nm.n : Math.floor(cols * sparsity);
      const order = [...cs].sort((a, b) => score(a) - score(b) || a - b);
      for (const c of order.slice(0, k)) mask[r * cols + c] = 1;
    }
  }
  return mask;
}

describe("Wanda", () => {
  const sumSq = gramDiagonal(gram(), cols);

  for (const s of [0.5, 0.6]) {
    it(`unstructured ${s}: the mask equals the plain per-row reference`, () => {
      const mask = wandaMask(W, rows, cols, sumSq, T, s, "unstructured");
      expect(Array.from(mask)).toEqual(Array.from(referenceMask(s)));
      for (let r = 0; r < rows; r++) expect(mask.subarray(r * cols, (r + 1) * cols).reduce((a, b) => a + b, 0)).toBe(Math.floor(cols * s));
    });
  }

  for (const [pattern, nm] of [
    ["2:4", { n: 2, m: 4 }],
    ["4:8", { n: 4, m: 8 }],
  ] as const) {
    it(`${pattern}: the mask equals the plain reference`, () => {
      expect(Array.from(wandaMask(W, rows, cols, sumSq, T, 0.5, pattern))).toEqual(Array.from(referenceMask(0.5, nm)));
    });
  }

  it("differs from magnitude pruning when channels differ in scale", () => {
    const flat = new Float64Array(cols).fill(1);
    const byWeight = wandaMask(W, rows, cols, flat, 1, 0.5, "unstructured");
    const byWanda = wandaMask(W, rows, cols, sumSq, T, 0.5, "unstructured");
    let differ = 0;
    for (let i = 0; i < byWeight.length; i++) if (byWeight[i] !== byWanda[i]) differ++;
    expect(differ).toBeGreaterThan(rows * cols * 0.05);
  });

  it("keeps the outputs far closer than magnitude pruning when a few input features are large (the mechanism of its gain on LLMs)", () => {
    // 3 of 64 input channels 30x larger than the rest, as the outlier features of billion-parameter models
    const outliers = new Set([5, 17, 40]);
    const Xo = gaussian(T * cols, 9).map((v, i) => v * (outliers.has(i % cols) ? 30 : 1));
    const sq = new Float64Array(cols);
    for (let t = 0; t < T; t++) for (let j = 0; j < cols; j++) sq[j] += Xo[t * cols + j] ** 2;
    const outputError = (mask: Uint8Array) => {
      let e = 0;
      for (let t = 0; t < T; t++)
        for (let r = 0; r < rows; r++) {
          let d = 0;
          for (let c = 0; c < cols; c++) if (mask[r * cols + c]) d += W[r * cols + c] * Xo[t * cols + c];
          e += d * d;
        }
      return e;
    };
    const wanda = outputError(wandaMask(W, rows, cols, sq, T, 0.5, "unstructured"));
    const magnitude = outputError(magnitudeMask(W, rows, cols, 0.5, "unstructured"));
    expect(wanda).toBeLessThan(0.5 * magnitude);
  });

  it("refuses norms of the wrong width", () => {
    expect(() => wandaMask(W, rows, cols, new Float64Array(cols - 1), T, 0.5, "unstructured")).toThrow(/63 channels, expected 64/);
  });
});
