import { describe, expect, it } from "vitest";
import { gptqQuantize } from "../../workers/methods/quantization/gptq-core";
import { dequantize, outputErrorGram, quantizeRtn, type Bits } from "../../workers/methods/quantization/quant-math";
import { Rng } from "../../workers/data/rng";
import { gaussian } from "./helpers";

const rows = 32;
const cols = 128;
const T = 512;

/** Correlated calibration inputs: a few shared latent directions plus small noise and a couple of large channels. */
function correlatedInputs(seed: number): Float64Array {
  const rng = new Rng(seed);
  const latent = 6;
  const mix = Float64Array.from({ length: latent * cols }, () => rng.normal());
  const x = new Float64Array(T * cols);
  for (let t = 0; t < T; t++) {
    const z = Array.from({ length: latent }, () => rng.normal());
    for (let c = 0; c < cols; c++) {
      let v = 0.1 * rng.normal();
      for (let l = 0; l < latent; l++) v += z[l] * mix[l * cols + c];
      x[t * cols + c] = c % 37 === 0 ? 8 * v : v;
    }
  }
  return x;
}

function gramOf(x: Float64Array): Float64Array {
  const g = new Float64Array(cols * cols);
  for (let t = 0; t < T; t++) {
    for (let i = 0; i < cols; i++) {
      const xi = x[t * cols + i];
      for (let j = 0; j < cols; j++) g[i * cols + j] += xi * x[t * cols + j];
    }
  }
  return g;
}

const W = gaussian(rows * cols, 3, 0.1);
const gram = gramOf(correlatedInputs(4));

describe("GPTQ", () => {
  for (const bits of [3, 4] as Bits[]) {
    for (const groupSize of [0, 32]) {
      for (const actOrder of [false, true]) {
        it(`${bits}-bit group ${groupSize}${actOrder ? " act-order" : ""}: lower output error than RTN`, () => {
          const spec = { bits, groupSize, symmetric: false };
          const rtn = outputErrorGram(W, dequantize(quantizeRtn(W, rows, cols, spec)), rows, cols, gram);
          const res = gptqQuantize(W, rows, cols, gram, T, { ...spec, damp: 0.01, blockSize: 128, actOrder });
          const gptq = outputErrorGram(W, dequantize(res.quantized), rows, cols, gram);
          expect(gptq).toBeLessThan(0.7 * rtn);
        });
      }
    }
  }

  it("lazy block updates give the same codes as column-by-column updates", () => {
    const opts = { bits: 4 as Bits, groupSize: 32, symmetric: false, damp: 0.01, actOrder: false };
    const a = gptqQuantize(W, rows, cols, gram, T, { ...opts, blockSize: 128 }).quantized;
    const b = gptqQuantize(W, rows, cols, gram, T, { ...opts, blockSize: 1 }).quantized;
    let differ = 0;
    for (let i = 0; i < a.q.length; i++) if (a.q[i] !== b.q[i]) differ++;
    // float rounding in a different summation order may flip a code that sits on a rounding edge
    expect(differ).toBeLessThanOrEqual(2);
  });

  it("zeroes inputs that never activate and still quantizes", () => {
    const g = Float64Array.from(gram);
    for (let j = 0; j < cols; j++) {
      g[5 * cols + j] = 0;
      g[j * cols + 5] = 0;
    }
    const res = gptqQuantize(W, rows, cols, g, T, { bits: 4, groupSize: 32, symmetric: false, damp: 0.01, blockSize: 64, actOrder: false });
    expect(res.deadColumns).toBe(1);
    const wHat = dequantize(res.quantized);
    for (let r = 0; r < rows; r++) expect(wHat[r * cols + 5]).toBe(0);
  });
});
