import { describe, expect, it } from "vitest";
import { applyMask, checkNM, lowestNM, lowestPerBlock, lowestPerMatrix, lowestPerRow, nmOf, zerosPerGroup } from "../../workers/methods/pruning/masks";
import { gaussian } from "../quant/helpers";

const rows = 12;
const cols = 40;
const scores = Float64Array.from(gaussian(rows * cols, 11), Math.abs);
const count = (m: Uint8Array, from = 0, to = m.length) => m.subarray(from, to).reduce((a, b) => a + b, 0);

describe("pruning masks", () => {
  it("zero floor(sparsity x group) weights per comparison group, the reference's int()", () => {
    expect(zerosPerGroup(40, 0.5)).toBe(20);
    expect(zerosPerGroup(10, 0.29)).toBe(2);
    expect(zerosPerGroup(96, 0.7)).toBe(67);
    expect(() => zerosPerGroup(10, 1)).toThrow(/sparsity must be in \[0, 1\)/);
    for (const s of [0, 0.1, 0.5, 0.73, 0.95]) {
      const m = lowestPerMatrix(scores, s);
      expect(count(m)).toBe(Math.floor(rows * cols * s));
      const r = lowestPerRow(scores, rows, cols, s);
      for (let i = 0; i < rows; i++) expect(count(r, i * cols, (i + 1) * cols)).toBe(Math.floor(cols * s));
    }
  });

  it("prune exactly the lowest scores of each group", () => {
    const m = lowestPerMatrix(scores, 0.6);
    let maxPruned = -Infinity;
    let minKept = Infinity;
    scores.forEach((v, i) => {
      if (m[i]) maxPruned = Math.max(maxPruned, v);
      else minKept = Math.min(minKept, v);
    });
    expect(maxPruned).toBeLessThanOrEqual(minKept);
    const r = lowestPerRow(scores, rows, cols, 0.3);
    for (let i = 0; i < rows; i++) {
      const row = Array.from(scores.subarray(i * cols, (i + 1) * cols));
      const cut = [...row].sort((a, b) => a - b)[Math.floor(cols * 0.3) - 1];
      row.forEach((v, c) => expect(r[i * cols + c] === 1).toBe(v <= cut));
    }
  });

  it("a rows x block group counts the whole block, leaving other columns alone", () => {
    const mask = new Uint8Array(rows * cols);
    const k = lowestPerBlock(scores, rows, cols, 8, 24, 0.5, mask);
    expect(k).toBe(Math.floor(rows * 16 * 0.5));
    expect(count(mask)).toBe(k);
    for (let r = 0; r < rows; r++) for (let c = 0; c < cols; c++) if (c < 8 || c >= 24) expect(mask[r * cols + c]).toBe(0);
    // the block's threshold is shared by its rows: row counts differ
    const perRow = Array.from({ length: rows }, (_, r) => count(mask, r * cols + 8, r * cols + 24));
    expect(new Set(perRow).size).toBeGreaterThan(1);
  });

  for (const pattern of ["2:4", "4:8"] as const) {
    it(`${pattern}: exactly N zeros in every group of M consecutive inputs, the N lowest`, () => {
      const nm = nmOf(pattern)!;
      const mask = new Uint8Array(rows * cols);
      lowestNM(scores, rows, cols, nm, mask);
      for (let r = 0; r < rows; r++) {
        for (let g = 0; g < cols; g += nm.m) {
          const at = r * cols + g;
          expect(count(mask, at, at + nm.m)).toBe(nm.n);
          const pruned = [...Array(nm.m).keys()].filter((i) => mask[at + i]).map((i) => scores[at + i]);
          const kept = [...Array(nm.m).keys()].filter((i) => !mask[at + i]).map((i) => scores[at + i]);
          expect(Math.max(...pruned)).toBeLessThanOrEqual(Math.min(...kept));
        }
      }
    });
  }

  it("ties go to the lower index; all-equal scores still prune exactly N of M", () => {
    const flat = new Float64Array(2 * 8).fill(1);
    const mask = new Uint8Array(16);
    lowestNM(flat, 2, 8, { n: 2, m: 4 }, mask);
    expect(Array.from(mask)).toEqual([1, 1, 0, 0, 1, 1, 0, 0, 1, 1, 0, 0, 1, 1, 0, 0]);
  });

  it("refuses an input dimension that does not split into groups of M", () => {
    expect(() => checkNM(30, { n: 2, m: 4 }, "q_proj (K = 30)")).toThrow(
      /2:4 sparsity needs the input dimension to be a multiple of 4; q_proj \(K = 30\) has 30/,
    );
  });

  it("applyMask zeroes exactly the masked weights", () => {
    const w = gaussian(rows * cols, 2);
    const before = Float32Array.from(w);
    const mask = lowestPerMatrix(scores, 0.5);
    expect(applyMask(w, mask)).toBe(count(mask));
    w.forEach((v, i) => expect(v).toBe(mask[i] ? 0 : before[i]));
  });
});
