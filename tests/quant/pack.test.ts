import { describe, expect, it } from "vitest";
import { attr, makeNode, makeTensor } from "../../workers/onnx/model-io";
import { packDequantizeLinear, packMatMulNBits } from "../../workers/methods/quantization/pack";
import { dequantize, quantizeRtn, transpose, type Bits } from "../../workers/methods/quantization/quant-math";
import { hqqQuantize } from "../../workers/methods/quantization/hqq-core";
import { gaussian, linearGraph, maxAbs, maxAbsDiff, runLinear } from "./helpers";

const K = 320; // per-channel needs two MatMulNBits blocks of 256 (the largest onnxruntime takes)
const N = 48;
const M = 5;
const W = gaussian(N * K, 11, 0.05);
const A = gaussian(M * K, 12);

/** The reference: an ordinary MatMul on the JS-dequantized weight, run through onnxruntime too. */
async function referenceMatMul(wHatRows: Float32Array) {
  const graph = linearGraph([makeNode("MatMul", ["A", "W"], ["Y"])], [makeTensor("W", [K, N], transpose(wHatRows, N, K))], K, N);
  return runLinear(graph, A, M, K);
}

describe("MatMulNBits packing", () => {
  const cases: { bits: 4 | 8; symmetric: boolean; groupSize: number; hqq?: boolean }[] = [];
  for (const bits of [4, 8] as const) for (const symmetric of [true, false]) for (const groupSize of [0, 32, 128]) cases.push({ bits, symmetric, groupSize });
  cases.push({ bits: 4, symmetric: false, groupSize: 64, hqq: true });

  for (const c of cases) {
    it(`${c.bits}-bit ${c.symmetric ? "sym" : "asym"} group ${c.groupSize}${c.hqq ? " float zero points" : ""} matches MatMul on dequantized weights`, async () => {
      const qw = c.hqq
        ? hqqQuantize(W, N, K, { bits: c.bits, groupSize: c.groupSize, symmetric: false, iters: 20, lpNorm: 0.7, integerZeros: false })
        : quantizeRtn(W, N, K, { bits: c.bits, groupSize: c.groupSize, symmetric: c.symmetric });
      if (c.hqq) expect(qw.integerZeros).toBe(false);
      const p = packMatMulNBits(qw);
      // per-channel: blocks of 256 repeating the row's scale (320 -> 2 blocks)
      expect(p.blockSize).toBe(c.groupSize === 0 ? 256 : c.groupSize);
      expect(p.blocks).toBe(Math.ceil(K / p.blockSize));
      const inits = [makeTensor("B", [N, p.blocks, (p.blockSize * p.bits) / 8], p.b), makeTensor("S", [N * p.blocks], p.scales)];
      const inputs = ["A", "B", "S"];
      if (p.zeroPoints) {
        inits.push(makeTensor("Z", [p.zeroPoints.length], p.zeroPoints));
        inputs.push("Z");
      }
      const node = makeNode("MatMulNBits", inputs, ["Y"], [attr.int("K", K), attr.int("N", N), attr.int("bits", c.bits), attr.int("block_size", p.blockSize)], {
        domain: "com.microsoft",
      });
      const y = await runLinear(linearGraph([node], inits, K, N), A, M, K);
      const ref = await referenceMatMul(dequantize(qw));
      expect(maxAbsDiff(y, ref)).toBeLessThan(1e-5 * Math.max(1, maxAbs(ref)));
    });
  }

  it("per-channel with K under 256 uses one power-of-two block per row", async () => {
    const k = 100;
    const w = gaussian(N * k, 13, 0.05);
    const a = gaussian(M * k, 14);
    const qw = quantizeRtn(w, N, k, { bits: 4, groupSize: 0, symmetric: false });
    const p = packMatMulNBits(qw);
    expect([p.blockSize, p.blocks]).toEqual([128, 1]);
    const node = makeNode(
      "MatMulNBits",
      ["A", "B", "S", "Z"],
      ["Y"],
      [attr.int("K", k), attr.int("N", N), attr.int("bits", 4), attr.int("block_size", p.blockSize)],
      { domain: "com.microsoft" },
    );
    const inits = [
      makeTensor("B", [N, p.blocks, p.blockSize / 2], p.b),
      makeTensor("S", [N * p.blocks], p.scales),
      makeTensor("Z", [p.zeroPoints!.length], p.zeroPoints!),
    ];
    const y = await runLinear(linearGraph([node], inits, k, N), a, M, k);
    const refGraph = linearGraph([makeNode("MatMul", ["A", "W"], ["Y"])], [makeTensor("W", [k, N], transpose(dequantize(qw), N, k))], k, N);
    const ref = await runLinear(refGraph, a, M, k);
    expect(maxAbsDiff(y, ref)).toBeLessThan(1e-5 * Math.max(1, maxAbs(ref)));
  });

  it("refuses bit widths MatMulNBits cannot hold", () => {
    expect(() => packMatMulNBits(quantizeRtn(W, N, K, { bits: 3, groupSize: 32, symmetric: false }))).toThrow(/4- or 8-bit/);
  });
});

describe("blocked DequantizeLinear (opset 21)", () => {
  for (const bits of [2, 3, 4, 8] as Bits[]) {
    for (const symmetric of [true, false]) {
      for (const groupSize of [0, 32]) {
        it(`${bits}-bit ${symmetric ? "sym" : "asym"} group ${groupSize} matches MatMul on dequantized weights`, async () => {
          const qw = quantizeRtn(W, N, K, { bits, groupSize, symmetric });
          const p = packDequantizeLinear(qw);
          expect(p.containerBits).toBe(bits <= 4 ? 4 : 8);
          const inits = [makeTensor("Q", [K, N], p.codes, p.dataType), makeTensor("S", p.scaleDims, p.scales)];
          const inputs = ["Q", "S"];
          if (p.zeroPoint) {
            inits.push(makeTensor("Z", p.zeroPoint.dims, p.zeroPoint.data, p.zeroPoint.dataType));
            inputs.push("Z");
          }
          const attrs = [attr.int("axis", p.axis)];
          if (p.blockSize) attrs.push(attr.int("block_size", p.blockSize));
          const graph = linearGraph([makeNode("DequantizeLinear", inputs, ["Wq"], attrs), makeNode("MatMul", ["A", "Wq"], ["Y"])], inits, K, N);
          // onnxruntime fuses DequantizeLinear+MatMul into MatMulNBits with int8 activations by
          // default; accuracy level 0 keeps float activations so the comparison is exact.
          const y = await runLinear(graph, A, M, K, { extra: { session: { qdq_matmulnbits_accuracy_level: "0" } } });
          const ref = await referenceMatMul(dequantize(qw));
          expect(maxAbsDiff(y, ref)).toBeLessThan(1e-5 * Math.max(1, maxAbs(ref)));
        });
      }
    }
  }
});
