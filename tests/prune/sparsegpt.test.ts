import { describe, expect, it } from "vitest";
import { dampedInverseFactor, layerHessian } from "../../workers/methods/hessian";
import { magnitudeMask } from "../../workers/methods/pruning/magnitude";
import { sparsegptPrune } from "../../workers/methods/pruning/sparsegpt-core";
import { outputErrorGram } from "../../workers/methods/quantization/quant-math";
import { Rng } from "../../workers/data/rng";
import { gaussian } from "../quant/helpers";

const rows = 16;
const cols = 192;
const T = 400;
const BLOCK = 128;

/** Correlated inputs (a few latent directions plus noise), as real activations are. */
function gramOf(seed: number): Float64Array {
  const rng = new Rng(seed);
  const latent = 8;
  const mix = Float64Array.from({ length: latent * cols }, () => rng.normal());
  const g = new Float64Array(cols * cols);
  const x = new Float64Array(cols);
  for (let t = 0; t < T; t++) {
    const z = Array.from({ length: latent }, () => rng.normal());
    for (let c = 0; c < cols; c++) {
      let v = 0.3 * rng.normal();
      for (let l = 0; l < latent; l++) v += z[l] * mix[l * cols + c];
      x[c] = c % 29 === 0 ? 5 * v : v;
    }
    for (let i = 0; i < cols; i++) for (let j = 0; j < cols; j++) g[i * cols + j] += x[i] * x[j];
  }
  return g;
}

const W = gaussian(rows * cols, 21, 0.2);
const G = gramOf(22);

/**
 * SparseGPT written plainly, column by column: every pruned column's error is subtracted from all
 * later columns at once (no lazy blocks). The unstructured mask is chosen when a block of 128
 * columns starts, over all its rows; the N:M mask every M columns.
 */
function reference(sparsity: number, nm: { n: number; m: number } | null, gram = G): Float64Array {
  const { H, dead } = layerHessian(gram, cols, T, "test");
  const w = Float64Array.from(W);
  for (const j of dead) for (let r = 0; r < rows; r++) w[r * cols + j] = 0;
  const { U } = dampedInverseFactor(H, cols, 0.01, "test");
  const u = (i: number, j: number) => U[i * cols + j];
  const pruned = new Uint8Array(rows * cols);
  const score = (r: number, c: number) => w[r * cols + c] ** 2 / u(c, c) ** 2;
  for (let i = 0; i < cols; i++) {
    if (!nm && i % BLOCK === 0) {
      const end = Math.min(i + BLOCK, cols);
      const entries: [number, number][] = [];
      for (let r = 0; r < rows; r++) for (let c = i; c < end; c++) entries.push([score(r, c), r * cols + c]);
      entries.sort((a, b) => a[0] - b[0]);
      for (const [, at] of entries.slice(0, Math.floor(entries.length * sparsity))) pruned[at] = 1;
    }
    if (nm && i % nm.m === 0) {
      for (let r = 0; r < rows; r++) {
        const cs = Array.from({ length: nm.m }, (_, k) => i + k).sort((a, b) => score(r, a) - score(r, b));
        for (const c of cs.slice(0, nm.n)) pruned[r * cols + c] = 1;
      }
    }
    for (let r = 0; r < rows; r++) {
      const v = w[r * cols + i];
      const q = pruned[r * cols + i] ? 0 : v;
      const e = (v - q) / u(i, i);
      for (let j = i + 1; j < cols; j++) w[r * cols + j] -= e * u(i, j);
      w[r * cols + i] = q;
    }
  }
  return w;
}

function maxRelDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  let scale = 0;
  let d = 0;
  for (let i = 0; i < a.length; i++) {
    scale = Math.max(scale, Math.abs(b[i]));
    d = Math.max(d, Math.abs(a[i] - b[i]));
  }
  return d / scale;
}

const zerosIn = (w: ArrayLike<number>, from: number, to: number, step = 1) => {
  let z = 0;
  for (let i = from; i < to; i += step) if (w[i] === 0) z++;
  return z;
};

describe("SparseGPT", () => {
  for (const [pattern, nm] of [
    ["unstructured", null],
    ["2:4", { n: 2, m: 4 }],
    ["4:8", { n: 4, m: 8 }],
  ] as const) {
    it(`${pattern}: equals the column-by-column reference within float tolerance`, () => {
      const res = sparsegptPrune(W, rows, cols, G, T, { sparsity: 0.5, pattern, damp: 0.01, blockSize: BLOCK });
      const ref = reference(0.5, nm);
      expect(maxRelDiff(res.weight, ref)).toBeLessThan(1e-5);
      for (let i = 0; i < ref.length; i++) expect(res.weight[i] === 0).toBe(ref[i] === 0);
    });
  }

  it("unstructured: exactly floor(sparsity x rows x 128) zeros in each block of columns", () => {
    for (const s of [0.5, 0.7]) {
      const { weight } = sparsegptPrune(W, rows, cols, G, T, { sparsity: s, pattern: "unstructured", damp: 0.01, blockSize: BLOCK });
      for (const [c0, c1] of [
        [0, 128],
        [128, 192],
      ]) {
        let z = 0;
        for (let r = 0; r < rows; r++) z += zerosIn(weight, r * cols + c0, r * cols + c1);
        expect(z).toBe(Math.floor(rows * (c1 - c0) * s));
      }
    }
  });

  it("2:4: exactly two zeros in every four inputs of a row", () => {
    const { weight } = sparsegptPrune(W, rows, cols, G, T, { sparsity: 0.5, pattern: "2:4", damp: 0.01, blockSize: BLOCK });
    for (let g = 0; g < rows * cols; g += 4) expect(zerosIn(weight, g, g + 4)).toBe(2);
  });

  it("reconstruction: lower output error than magnitude pruning at the same sparsity", () => {
    for (const pattern of ["unstructured", "2:4"] as const) {
      const { weight } = sparsegptPrune(W, rows, cols, G, T, { sparsity: 0.5, pattern, damp: 0.01, blockSize: BLOCK });
      const mag = Float32Array.from(W);
      magnitudeMask(W, rows, cols, 0.5, pattern).forEach((m, i) => {
        if (m) mag[i] = 0;
      });
      const eSparse = outputErrorGram(W, weight, rows, cols, G);
      const eMag = outputErrorGram(W, mag, rows, cols, G);
      expect(eSparse).toBeLessThan(0.5 * eMag);
    }
  });

  it("zeroes inputs that never activated, as the reference", () => {
    const g = Float64Array.from(G);
    for (let j = 0; j < cols; j++) {
      g[7 * cols + j] = 0;
      g[j * cols + 7] = 0;
    }
    const res = sparsegptPrune(W, rows, cols, g, T, { sparsity: 0.5, pattern: "unstructured", damp: 0.01, blockSize: BLOCK });
    expect(res.deadColumns).toBe(1);
    for (let r = 0; r < rows; r++) expect(res.weight[r * cols + 7]).toBe(0);
    expect(maxRelDiff(res.weight, reference(0.5, null, g))).toBeLessThan(1e-5);
  });

  it("refuses an input dimension that does not split into groups of M", () => {
    expect(() =>
      sparsegptPrune(W.subarray(0, rows * 190), rows, 190, new Float64Array(190 * 190), T, { sparsity: 0.5, pattern: "4:8", damp: 0.01, blockSize: BLOCK }),
    ).toThrow(/4:8 sparsity needs the input dimension to be a multiple of 8/);
  });
});
