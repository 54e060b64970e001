import { describe, expect, it } from "vitest";
import { makeNode, makeTensor } from "../../workers/onnx/model-io";
import { quantizableLinears } from "../../workers/methods/quantization/emit";
import { transpose } from "../../workers/methods/quantization/quant-math";
import { emitW8A8Group, MIN_SCALE, quantizeInt8PerChannel, roundHalfEven, type ActQuant, type Int8Weight } from "../../workers/methods/quantization/w8a8";
import { Rng } from "../../workers/data/rng";
import { gaussian, linearGraph, maxAbs, maxAbsDiff, matmulRows, runLinear } from "./helpers";

const f = Math.fround;

/**
 * What the emitted graph computes, in exact integer arithmetic: activations quantized per token or
 * per tensor exactly as the graph does it in float32, integer dot products summed exactly, then the
 * two float32 rescales.
 */
function w8a8Reference(a: Float32Array, m: number, k: number, w: Int8Weight, act: ActQuant): Float32Array {
  const n = w.rows;
  const scales: number[] = [];
  let all = 0;
  for (let i = 0; i < m; i++) {
    let row = 0;
    for (let t = 0; t < k; t++) row = Math.max(row, Math.abs(a[i * k + t]));
    scales.push(row);
    all = Math.max(all, row);
  }
  const y = new Float32Array(m * n);
  for (let i = 0; i < m; i++) {
    const s = Math.max(f((act === "per-token" ? scales[i] : all) / 127), f(MIN_SCALE));
    const q = Array.from({ length: k }, (_, t) => Math.max(-127, Math.min(127, roundHalfEven(f(a[i * k + t] / s)))));
    for (let j = 0; j < n; j++) {
      let acc = 0; // exact: |acc| < 2^53
      for (let t = 0; t < k; t++) acc += q[t] * w.codes[j * k + t];
      y[i * n + j] = f(f(acc * s) * w.scales[j]);
    }
  }
  return y;
}

function emitSingle(W: Float32Array, n: number, k: number, act: ActQuant) {
  const model = linearGraph([makeNode("MatMul", ["A", "W"], ["Y"], [], { name: "linear" })], [makeTensor("W", [k, n], transpose(W, n, k))], k, n);
  const [target] = quantizableLinears(model).targets;
  const weight = quantizeInt8PerChannel(W, n, k);
  const storage = emitW8A8Group(model, "A", [{ target, weight }], act);
  return { model, weight, storage };
}

describe("W8A8 emission", () => {
  for (const act of ["per-token", "per-tensor"] as const) {
    it(`matches int8 weights times run-time int8 activations (${act}) computed in exact integer math`, async () => {
      const [K, N, M] = [64, 24, 6];
      const W = gaussian(N * K, 31, 0.1);
      const A = gaussian(M * K, 32);
      for (let t = 0; t < K; t++) A[2 * K + t] *= 8; // one loud token: per-token and per-tensor differ
      const { model, weight, storage } = emitSingle(W, N, K, act);
      expect(storage.codes).toBe(K * N);
      expect(storage.scales).toBe(4 * N);
      expect(model.graph!.node!.filter((x) => x.opType === "MatMulInteger")).toHaveLength(1);
      const y = await runLinear(model, A, M, K);
      const ref = w8a8Reference(A, M, K, weight, act);
      expect(maxAbsDiff(y, ref)).toBeLessThan(1e-5 * maxAbs(ref));
      // and it is not the float result: activations were quantized
      expect(maxAbsDiff(y, matmulRows(A, M, W, N, K))).toBeGreaterThan(1e-4 * maxAbs(ref));
    });
  }

  it("stays exact where every u8 x s8 pair sum would exceed 32767 (the 16-bit saturation of AVX2 kernels without VNNI)", async () => {
    // Activations near their row maximum quantize to codes near +127 (uint8 near 255), weights to codes
    // near ±127 with one sign per output row: any u8·s8 pair sum is
    // ≥ 2·(121+128)·121 > 32767, so a kernel that adds pairs of u8·s8 products in 16 bits saturates.
    const [K, N, M] = [256, 16, 4];
    const rng = new Rng(7);
    const A = Float32Array.from({ length: M * K }, () => 0.96 + 0.04 * rng.next());
    const W = new Float32Array(N * K);
    for (let j = 0; j < N; j++) {
      for (let t = 0; t < K; t++) W[j * K + t] = (0.96 + 0.04 * rng.next()) * (j % 2 === 0 ? 1 : -1) * 0.05;
    }
    for (const act of ["per-token", "per-tensor"] as const) {
      const { model, weight } = emitSingle(W, N, K, act);
      for (const c of weight.codes) expect(Math.abs(c)).toBeGreaterThanOrEqual(121);
      const ref = w8a8Reference(A, M, K, weight, act);
      const y = await runLinear(model, A, M, K);
      expect(maxAbsDiff(y, ref)).toBeLessThan(1e-5 * maxAbs(ref));
      // the integer result is also within int8 rounding of the float one
      expect(maxAbsDiff(y, matmulRows(A, M, W, N, K))).toBeLessThan(0.01 * maxAbs(ref));
    }
  });

  it("quantizes weights per channel as the reference does (absmax / 127, codes within ±127)", () => {
    const W = Float32Array.from([0.5, -1, 0.25, 0, 0, 0, 0, 0, 3, 2, -3, 1]);
    const q = quantizeInt8PerChannel(W, 3, 4);
    expect(Array.from(q.scales)).toEqual([f(1 / 127), f(MIN_SCALE), f(3 / 127)]);
    expect(Array.from(q.codes)).toEqual([64, -127, 32, 0, 0, 0, 0, 0, 127, 85, -127, 42]);
  });
});
