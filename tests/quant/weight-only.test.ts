import { describe, expect, it } from "vitest";
import { makeNode, makeTensor } from "../../workers/onnx/model-io";
import { emitQuantizedLinear, quantizableLinears, resolveFormat } from "../../workers/methods/quantization/emit";
import { dequantize, quantizeRtn, transpose } from "../../workers/methods/quantization/quant-math";
import { openRuntime } from "../../workers/runtimes";
import { gaussian, linearGraph, matmulRows, maxAbs, maxAbsDiff, runLinear } from "./helpers";

/** Weight-only means float activations: what a 4-bit run measures is the dequantized weights' own error. */
describe("weight-only formats keep activations in float", () => {
  const [K, N, M] = [128, 32, 5];
  const W = gaussian(N * K, 41, 0.1);
  const A = gaussian(M * K, 42);
  const qw = quantizeRtn(W, N, K, { bits: 4, groupSize: 32, symmetric: false });
  const exact = matmulRows(A, M, dequantize(qw), N, K);
  const emitted = (format: "qdq" | "matmulnbits", accuracyLevel: 0 | 4) => {
    const model = linearGraph([makeNode("MatMul", ["A", "W"], ["Y"], [], { name: "linear" })], [makeTensor("W", [K, N], transpose(W, N, K))], K, N);
    emitQuantizedLinear(model, quantizableLinears(model).targets[0], qw, format, { accuracyLevel });
    return model;
  };

  it("qdq under the runtime's session options equals float activations times the dequantized weights", async () => {
    const options = (await openRuntime("cpu")).sessionOptions();
    const y = await runLinear(emitted("qdq", 0), A, M, K, options);
    expect(maxAbsDiff(y, exact)).toBeLessThan(1e-5 * maxAbs(exact));
    // onnxruntime's own default fuses DequantizeLinear + MatMul into MatMulNBits at accuracy level 4,
    // which quantizes the activations: the option above is what keeps the run weight-only.
    const fused = await runLinear(emitted("qdq", 0), A, M, K, { ...options, extra: {} });
    expect(maxAbsDiff(fused, exact)).toBeGreaterThan(1e-4 * maxAbs(exact));
  });

  it("matmulnbits level 0 is weight-only; level 4 (W4A8) quantizes activations", async () => {
    const options = (await openRuntime("cpu")).sessionOptions();
    const a16 = await runLinear(emitted("matmulnbits", 0), A, M, K, options);
    expect(maxAbsDiff(a16, exact)).toBeLessThan(1e-5 * maxAbs(exact));
    const a8 = await runLinear(emitted("matmulnbits", 4), A, M, K, options);
    expect(maxAbsDiff(a8, exact)).toBeGreaterThan(1e-4 * maxAbs(exact));
  });

  it("refuses W4A8 where the model would be qdq, naming the fix", () => {
    expect(resolveFormat("auto", 4, "cpu", 4)).toBe("matmulnbits");
    expect(() => resolveFormat("auto", 3, "cpu", 4)).toThrow(/accuracy_level 4.*use accuracy_level 0/);
    expect(() => resolveFormat("auto", 4, "wasm", 4)).toThrow(/format "qdq"/);
  });
});
