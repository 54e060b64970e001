import { describe, expect, it } from "vitest";
import { makeNode, makeTensor } from "../../workers/onnx/model-io";
import { emitW8A8Group, quantizableLinears } from "../../workers/methods/quantization/emit";
import { dequantize, quantizeRtn, transpose } from "../../workers/methods/quantization/quant-math";
import { gaussian, linearGraph, matmulRows, maxAbs, maxAbsDiff, runLinear } from "./helpers";

/** ONNX DynamicQuantizeLinear: uint8, range widened to include 0, zero point rounded half to even. */
function dynamicQuantize(x: Float32Array): { q: Uint8Array; scale: number; zero: number } {
  let lo = 0;
  let hi = 0;
  for (const v of x) {
    lo = Math.min(lo, v);
    hi = Math.max(hi, v);
  }
  const scale = Math.fround((hi - lo) / 255);
  const rne = (v: number) => {
    const r = Math.round(v);
    return Math.abs(v % 1) === 0.5 && r % 2 !== 0 ? r - 1 : r;
  };
  const zero = Math.min(255, Math.max(0, rne(-lo / scale)));
  const q = Uint8Array.from(x, (v) => Math.min(255, Math.max(0, rne(v / scale) + zero)));
  return { q, scale, zero };
}

describe("W8A8 emission", () => {
  it("matches int8 weights times run-time uint8 activations computed by hand", async () => {
    const K = 64;
    const N = 24;
    const M = 6;
    const W = gaussian(N * K, 31, 0.1);
    const A = gaussian(M * K, 32);
    const model = linearGraph([makeNode("MatMul", ["A", "W"], ["Y"], [], { name: "linear" })], [makeTensor("W", [K, N], transpose(W, N, K))], K, N);
    const [target] = quantizableLinears(model).targets;
    const qw = quantizeRtn(W, N, K, { bits: 8, groupSize: 0, symmetric: true });
    const storage = emitW8A8Group(model, "A", [{ target, quantized: qw }]);
    expect(storage.codes).toBe(K * N);
    const y = await runLinear(model, A, M, K);

    const { q, scale, zero } = dynamicQuantize(A);
    const aHat = Float32Array.from(q, (v) => (v - zero) * scale);
    const ref = matmulRows(aHat, M, dequantize(qw), N, K);
    expect(maxAbsDiff(y, ref)).toBeLessThan(1e-4 * maxAbs(ref));
    // and it is not the float result: activations were quantized
    expect(maxAbsDiff(y, matmulRows(A, M, W, N, K))).toBeGreaterThan(1e-4 * maxAbs(ref));
  });
});
