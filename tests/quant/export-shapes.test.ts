/**
 * Graph shapes that torch.onnx.export / optimum produce rather than Frontier's own builder: weights
 * named `onnx::MatMul_NNNN`, node names carrying the module path, `MatMul(x, Transpose(W))` kept
 * for every linear when constant folding is off, fp16 weights and external data.
 */
import fs from "node:fs";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { captureActivations, inMemory, sequenceLogits } from "../../workers/methods/calibration";
import { emitQuantizedLinear, quantizableLinears, readRowWeight } from "../../workers/methods/quantization/emit";
import { layerBlocks } from "../../workers/methods/quantization/gptq";
import { quantizeRtn, transpose } from "../../workers/methods/quantization/quant-math";
import { writeDecoder } from "../../workers/onnx/decoder-builder";
import {
  attr,
  DataType,
  getInitializer,
  makeNode,
  makeTensor,
  modelBytes,
  readModel,
  setInitializer,
  type ModelProto,
  type NodeProto,
} from "../../workers/onnx/model-io";
import { TINY, tinyDecoderFiles, tinyWeights, tmpDir, tokenSequences } from "./decoder-fixture";
import { linearGraph, maxAbsDiff } from "./helpers";

const MODULE: Record<string, string> = {
  q_proj: "self_attn/q_proj",
  k_proj: "self_attn/k_proj",
  v_proj: "self_attn/v_proj",
  o_proj: "self_attn/o_proj",
  gate_proj: "mlp/gate_proj",
  up_proj: "mlp/up_proj",
  down_proj: "mlp/down_proj",
};

interface ExportStyle {
  /** Node names: the exporter's module path, or anonymous (`/MatMul_12`). */
  nodeNames: "module" | "anonymous";
  /** Keep `Transpose(W)` in front of every linear, W stored [N, K] as in torch. */
  transposes: boolean;
}

/** Renames the builder's weights and linear nodes the way torch.onnx.export does. */
function exporterStyle(model: ModelProto, style: ExportStyle): ModelProto {
  const graph = model.graph!;
  const nodes = graph.node!;
  let id = 1000;
  const out: NodeProto[] = [];
  for (const node of nodes) {
    const w = node.input?.[1] ?? "";
    const m = /^layers\.(\d+)\.\w+\.(\w+)\.weight$/.exec(w);
    const isLinear = node.opType === "MatMul" && (m || w === "lm_head.weight");
    if (!isLinear) {
      if (style.nodeNames === "anonymous") node.name = `/${node.opType}_${id++}`;
      out.push(node);
      continue;
    }
    const name = `onnx::MatMul_${id++}`;
    const module = m ? `/model/layers.${m[1]}/${MODULE[m[2]]}` : "/lm_head";
    node.name = style.nodeNames === "module" ? `${module}/MatMul` : `/MatMul_${id++}`;
    const init = getInitializer(model, w);
    const [k, n] = init.dims;
    graph.initializer = graph.initializer!.filter((t) => t.name !== w);
    if (style.transposes) {
      graph.initializer.push(makeTensor(name, [n, k], transpose(init.data as Float32Array, k, n)));
      const tName = style.nodeNames === "module" ? `${module}/Transpose` : `/Transpose_${id++}`;
      out.push(makeNode("Transpose", [name], [`${tName}_output_0`], [attr.ints("perm", [1, 0])], { name: tName }));
      node.input = [node.input![0], `${tName}_output_0`];
    } else {
      graph.initializer.push(makeTensor(name, [k, n], init.data));
      node.input = [node.input![0], name];
    }
    out.push(node);
  }
  graph.node = out;
  return model;
}

let dir: string;
let base: string;
const seqs = tokenSequences(2, 16);
let baseLogits: Float32Array;

let save: ReturnType<typeof tinyDecoderFiles>["save"];

beforeAll(async () => {
  ({ dir, base, save } = tinyDecoderFiles());
  baseLogits = await sequenceLogits(base, seqs[0]);
});
afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

describe("layer blocks of exported graphs", () => {
  it("groups by the node names' module path when weights are named onnx::MatMul_NNNN", () => {
    const model = exporterStyle(readModel(base), { nodeNames: "module", transposes: false });
    const { targets } = quantizableLinears(model);
    expect(targets.every((t) => t.weightName.startsWith("onnx::MatMul_"))).toBe(true);
    const blocks = layerBlocks(targets);
    // one calibration pass per decoder layer plus the head, where the weight-name rule made one per linear
    expect(blocks.map((b) => b.length)).toEqual([7, 7, 1]);
    expect(layerBlocks(targets.map(({ layer: _l, ...t }) => t))).toHaveLength(7 * TINY.num_layers + 1);
    expect(blocks[1].every((t) => t.node.name?.startsWith("/model/layers.1/"))).toBe(true);
  });

  it("falls back on the residual stream when nodes are anonymous", () => {
    const model = exporterStyle(readModel(base), { nodeNames: "anonymous", transposes: true });
    const { targets } = quantizableLinears(model);
    expect(targets.filter((t) => t.layer?.startsWith("flow:"))).toHaveLength(7 * TINY.num_layers);
    const blocks = layerBlocks(targets);
    expect(blocks.map((b) => b.length)).toEqual([7, 7, 1]);
    expect(blocks[2][0].node.output?.[0]).toBe("logits");
  });

  it("keeps Frontier's own decoders grouped as before", () => {
    const blocks = layerBlocks(quantizableLinears(readModel(base)).targets);
    expect(blocks.map((b) => b.map((t) => t.weightName.split(".").slice(0, 2).join(".")))).toEqual([
      Array(7).fill("layers.0"),
      Array(7).fill("layers.1"),
      ["lm_head.weight"],
    ]);
  });
});

describe("MatMul(x, Transpose(W)) without constant folding", () => {
  it("folds an untied Transpose into the initializer: an ordinary target, same logits", async () => {
    const model = exporterStyle(readModel(base), { nodeNames: "module", transposes: true });
    const { targets, skipped } = quantizableLinears(model);
    expect(skipped).toEqual([]);
    expect(targets).toHaveLength(7 * TINY.num_layers + 1);
    expect(targets.some((t) => t.tied)).toBe(false);
    expect(model.graph!.node!.some((n) => n.opType === "Transpose" && n.input?.[0]?.startsWith("onnx::"))).toBe(false);
    const logits = await sequenceLogits(save(model, "folded.onnx"), seqs[0]);
    expect(maxAbsDiff(logits, baseLogits)).toBeLessThan(1e-4);
  });

  it("4-bit: the quantized model keeps no float copy, is smaller than the baseline and matches the native export", async () => {
    const quantizeAll = (model: ModelProto) => {
      const { targets } = quantizableLinears(model);
      for (const t of [...targets].sort((a, b) => b.nodeIndex - a.nodeIndex)) {
        emitQuantizedLinear(model, t, quantizeRtn(readRowWeight(model, t), t.n, t.k, { bits: 4, groupSize: 32, symmetric: false }), "matmulnbits");
      }
      return targets.map((t) => t.weightName);
    };
    const exported = save(exporterStyle(readModel(base), { nodeNames: "module", transposes: true }), "exported.onnx");
    const model = readModel(exported);
    const names = quantizeAll(model);
    const left = new Set((model.graph!.initializer ?? []).map((i) => i.name));
    expect(names.filter((n) => left.has(n))).toEqual([]);
    const file = save(model, "exported-q4.onnx");
    expect(modelBytes(file)).toBeLessThan(0.5 * modelBytes(exported));
    const native = readModel(base);
    quantizeAll(native);
    const [logits, nativeLogits] = [await sequenceLogits(file, seqs[0]), await sequenceLogits(save(native, "native-q4.onnx"), seqs[0])];
    expect(maxAbsDiff(logits, nativeLogits)).toBeLessThan(1e-4);
  });

  it("still detects a truly tied head (the initializer also feeds the embedding Gather)", () => {
    const tiedDir = tmpDir("frontier-tied-");
    try {
      const weights = tinyWeights();
      weights.delete("lm_head.weight");
      const written = writeDecoder(tiedDir, { ...TINY, tie_embeddings: true }, { weights });
      const model = exporterStyle(readModel(path.join(tiedDir, written.files.model)), { nodeNames: "module", transposes: true });
      const { targets } = quantizableLinears(model);
      const tied = targets.filter((t) => t.tied);
      expect(tied.map((t) => t.weightName)).toEqual(["embed_tokens.weight"]);
      expect(targets.filter((t) => !t.tied)).toHaveLength(7 * TINY.num_layers);
      expect(layerBlocks(targets).map((b) => b.length)).toEqual([7, 7, 1]);
    } finally {
      fs.rmSync(tiedDir, { recursive: true, force: true });
    }
  });

  it("leaves a Transpose'd weight with another non-embedding reader alone, with a note", () => {
    const w = Float32Array.from({ length: 8 * 4 }, (_, i) => i / 7);
    const model = linearGraph(
      [
        makeNode("Transpose", ["W"], ["Wt"], [attr.ints("perm", [1, 0])]),
        makeNode("MatMul", ["A", "Wt"], ["Y0"]),
        makeNode("ReduceSum", ["W"], ["S"]),
        makeNode("Add", ["Y0", "S"], ["Y"]),
      ],
      [makeTensor("W", [4, 8], w)],
      8,
      4,
    );
    const { targets, skipped } = quantizableLinears(model);
    expect(targets).toEqual([]);
    expect(skipped[0]).toMatch(/^W \(read through a Transpose/);
  });
});

describe("other exporter shapes", () => {
  it("reads weights kept in external data, folding their Transposes", async () => {
    const exported = save(exporterStyle(readModel(base), { nodeNames: "module", transposes: true }), "external.onnx", { externalDataThreshold: 1024 });
    const model = readModel(exported, { loadExternalData: false });
    const { targets } = quantizableLinears(model);
    expect(layerBlocks(targets).map((b) => b.length)).toEqual([7, 7, 1]);
    const logits = await sequenceLogits(save(model, "external-folded.onnx", { externalDataThreshold: 1024 }), seqs[0]);
    expect(maxAbsDiff(logits, baseLogits)).toBeLessThan(1e-4);
  });

  it("skips float16 weights with a note", () => {
    const model = linearGraph([makeNode("MatMul", ["A", "W"], ["Y"])], [], 8, 4);
    setInitializer(model, "W", [8, 4], new Uint16Array(32), DataType.FLOAT16);
    const { targets, skipped } = quantizableLinears(model);
    expect(targets).toEqual([]);
    expect(skipped).toEqual(["W (float16 weight: only float32 weights are quantized)"]);
  });

  it("takes Gemm with transB=1 and a bias as a transposed target", () => {
    const model = linearGraph(
      [makeNode("Gemm", ["A", "W", "b"], ["Y"], [attr.int("transB", 1)])],
      [makeTensor("W", [4, 8], new Float32Array(32)), makeTensor("b", [4], new Float32Array(4))],
      8,
      4,
    );
    const { targets, skipped } = quantizableLinears(model);
    expect(skipped).toEqual([]);
    expect(targets).toMatchObject([{ op: "Gemm", transposed: true, k: 8, n: 4 }]);
  });
});

describe("calibration capture without a model copy on disk", () => {
  it("hands the instrumented model to onnxruntime as bytes; over the size limit it goes through a scratch file, same statistics", async () => {
    const external = save(readModel(base), "capture-external.onnx", { externalDataThreshold: 1024 });
    const lazy = readModel(external, { loadExternalData: false });
    expect([inMemory(lazy), inMemory(readModel(external)), inMemory(readModel(external), 0)]).toEqual([false, true, false]);
    const [tap] = quantizableLinears(readModel(base)).targets;
    const taps = [{ name: tap.input, k: tap.k }];
    const scratch = path.join(dir, "scratch-never-created");
    const fromMemory = await captureActivations(lazy, taps, seqs, { gram: true, scratchDir: scratch });
    expect(fs.existsSync(scratch)).toBe(false);
    const viaFile = await captureActivations(lazy, taps, seqs, { gram: true, scratchDir: path.join(dir, "scratch"), inMemoryBytes: 0 });
    expect(fs.readdirSync(path.join(dir, "scratch"))).toEqual([]);
    expect(Array.from(fromMemory.get(tap.input)!.gram!)).toEqual(Array.from(viaFile.get(tap.input)!.gram!));
  });
});
