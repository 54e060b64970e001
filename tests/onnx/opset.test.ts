import * as ort from "onnxruntime-node";
import { describe, expect, it } from "vitest";
import { emitQuantizedLinear, quantizableLinears, readRowWeight } from "../../workers/methods/quantization/emit";
import { quantizeRtn } from "../../workers/methods/quantization/quant-math";
import { buildDecoder } from "../../workers/onnx/decoder-builder";
import {
  AttributeType,
  attr,
  DataType,
  encodeModel,
  getOpsetVersion,
  makeNode,
  makeTensor,
  type GraphProto,
  type ModelProto,
  type NodeProto,
  type TensorProto,
} from "../../workers/onnx/model-io";
import { upgradeOpset } from "../../workers/onnx/opset";
import { tinyWeights, TINY } from "../quant/decoder-fixture";
import { gaussian, valueInfo } from "../quant/helpers";
import { decoderFeeds, maxAbsDiff } from "./helpers";

const X_DIMS = [2, 3, 4];
const X = gaussian(24, 7);

function model(
  opset: number,
  nodes: NodeProto[],
  outputs: string[],
  initializers: TensorProto[] = [],
  extraInputs = [] as ReturnType<typeof valueInfo>[],
): ModelProto {
  return {
    irVersion: 7,
    opsetImport: [{ domain: "", version: opset }],
    graph: {
      name: "g",
      node: nodes,
      initializer: initializers,
      input: [valueInfo("X", DataType.FLOAT, X_DIMS), ...extraInputs],
      output: outputs.map((name) => ({ name, type: { tensorType: { elemType: DataType.FLOAT } } })),
    },
  };
}

const i64 = (name: string, values: number[]) => makeTensor(name, [values.length], BigInt64Array.from(values.map(BigInt)));
const f32 = (name: string, value: number) => makeTensor(name, [], Float32Array.of(value));

async function run(m: ModelProto, feeds: Record<string, ort.Tensor> = {}): Promise<Record<string, Float32Array>> {
  const session = await ort.InferenceSession.create(encodeModel(m));
  try {
    const out = await session.run({ X: new ort.Tensor("float32", X, X_DIMS), ...feeds });
    return Object.fromEntries(Object.entries(out).map(([k, v]) => [k, Float32Array.from(v.data as Float32Array)]));
  } finally {
    await session.release();
  }
}

async function expectSameAfterUpgrade(m: ModelProto, feeds: Record<string, ort.Tensor> = {}) {
  const before = await run(m, feeds);
  upgradeOpset(m, 21);
  expect(getOpsetVersion(m, "")).toBe(21);
  const after = await run(m, feeds);
  expect(Object.keys(after).sort()).toEqual(Object.keys(before).sort());
  for (const k of Object.keys(before)) {
    expect(after[k].length, k).toBe(before[k].length);
    expect(maxAbsDiff(after[k], before[k]), k).toBe(0);
  }
  return m;
}

const ops = (g: GraphProto | undefined) => (g?.node ?? []).map((n) => n.opType);

describe("upgradeOpset", () => {
  it("opset 14 (torch.onnx.export): Reduce* axes attributes become inputs, also inside If branches; Split, Unsqueeze, Clip pass", async () => {
    const branch = (axes: number[], out: string): GraphProto => ({
      name: out,
      node: [makeNode("ReduceMean", ["X"], [out], [attr.ints("axes", axes), attr.int("keepdims", 1)], { name: `${out}/mean` })],
      output: [{ name: out, type: { tensorType: { elemType: DataType.FLOAT } } }],
    });
    const nodes = [
      makeNode("ReduceMean", ["X"], ["mean"], [attr.ints("axes", [-1]), attr.int("keepdims", 1)], { name: "/norm/ReduceMean" }),
      makeNode("ReduceMax", ["X"], ["max"], [attr.ints("axes", [1]), attr.int("keepdims", 0)], { name: "/ReduceMax" }),
      makeNode("ReduceMin", ["X"], ["min_all"], [attr.int("keepdims", 0)], { name: "/ReduceMin" }),
      makeNode("ReduceL2", ["X"], ["l2"], [attr.ints("axes", [0, 2])], { name: "/ReduceL2" }),
      makeNode("ReduceSum", ["X", "axes_sum"], ["sum"], [attr.int("keepdims", 1)], { name: "/ReduceSum" }),
      makeNode("Split", ["X", "split_sizes"], ["s1", "s2"], [attr.int("axis", 2)], { name: "/Split" }),
      makeNode("Split", ["X"], ["e1", "e2"], [attr.int("axis", 2)], { name: "/SplitEqual" }),
      makeNode("Unsqueeze", ["max", "axes_unsq"], ["unsq"], [], { name: "/Unsqueeze" }),
      makeNode("Clip", ["X", "lo", "hi"], ["clip"], [], { name: "/Clip" }),
      makeNode(
        "If",
        ["cond"],
        ["branch"],
        [
          { name: "then_branch", type: AttributeType.GRAPH, g: branch([2], "then_out") },
          { name: "else_branch", type: AttributeType.GRAPH, g: branch([-1], "else_out") },
        ],
        {
          name: "/If",
        },
      ),
    ];
    const m = model(
      14,
      nodes,
      ["mean", "unsq", "min_all", "l2", "sum", "s1", "s2", "e1", "e2", "clip", "branch"],
      [i64("axes_sum", [1]), i64("split_sizes", [1, 3]), i64("axes_unsq", [1]), f32("lo", -0.5), f32("hi", 0.5)],
      [valueInfo("cond", DataType.BOOL, [])],
    );
    const feeds = { cond: new ort.Tensor("bool", [true], []) };
    await expectSameAfterUpgrade(m, feeds);
    await expect(run(m, { cond: new ort.Tensor("bool", [false], []) })).resolves.toBeDefined();
    const mean = m.graph?.node?.find((n) => n.name === "/norm/ReduceMean");
    expect(mean?.input).toHaveLength(2);
    expect(mean?.attribute?.map((a) => a.name)).toEqual(["keepdims"]);
    expect(m.graph?.node?.find((n) => n.name === "/ReduceMin")?.input).toEqual(["X"]);
    const inIf = m.graph?.node?.find((n) => n.opType === "If")?.attribute?.[0].g?.node?.[0];
    expect(inIf?.input).toHaveLength(2);
    // axes initializers are named uniquely
    const names = (m.graph?.initializer ?? []).map((t) => t.name);
    expect(new Set(names).size).toBe(names.length);
  });

  it("opset 11: Split, Squeeze, Unsqueeze, ReduceSum attributes become inputs; Softmax over a middle axis keeps its flattened meaning", async () => {
    const m = model(
      11,
      [
        makeNode("ReduceMean", ["X"], ["mean"], [attr.ints("axes", [-1])], { name: "/ReduceMean" }),
        makeNode("ReduceSum", ["X"], ["sum"], [attr.ints("axes", [0]), attr.int("keepdims", 0)], { name: "/ReduceSum" }),
        makeNode("Split", ["X"], ["s1", "s2"], [attr.int("axis", 1), attr.ints("split", [2, 1])], { name: "/Split" }),
        makeNode("Squeeze", ["mean"], ["sq"], [attr.ints("axes", [2])], { name: "/Squeeze" }),
        makeNode("Unsqueeze", ["sq"], ["unsq"], [attr.ints("axes", [0, 3])], { name: "/Unsqueeze" }),
        makeNode("Clip", ["X", "lo", "hi"], ["clip"], [], { name: "/Clip" }),
        makeNode("Softmax", ["X"], ["soft"], [], { name: "/Softmax" }),
        makeNode("Softmax", ["X"], ["soft_last"], [attr.int("axis", -1)], { name: "/SoftmaxLast" }),
        makeNode("LogSoftmax", ["X"], ["logsoft"], [attr.int("axis", 2)], { name: "/LogSoftmax" }),
      ],
      ["sum", "s1", "s2", "unsq", "clip", "soft", "soft_last", "logsoft"],
      [f32("lo", -0.5), f32("hi", 0.5)],
    );
    await expectSameAfterUpgrade(m);
    expect(ops(m.graph)).toContain("Flatten");
  });

  it("opset 9: Clip, Pad, Slice and TopK attributes become inputs", async () => {
    const m = model(
      9,
      [
        makeNode("Clip", ["X"], ["clip"], [attr.float("min", -0.25), attr.float("max", 0.75)], { name: "/Clip" }),
        makeNode("Clip", ["X"], ["relu_like"], [attr.float("min", 0)], { name: "/ClipMin" }),
        makeNode("Pad", ["X"], ["pad"], [attr.ints("pads", [0, 1, 0, 0, 0, 2]), attr.float("value", 1.5)], { name: "/Pad" }),
        makeNode("Pad", ["X"], ["pad_edge"], [attr.ints("pads", [0, 0, 1, 0, 0, 1]), attr.string("mode", "edge")], { name: "/PadEdge" }),
        makeNode("Slice", ["X"], ["slice"], [attr.ints("starts", [1]), attr.ints("ends", [3]), attr.ints("axes", [2])], { name: "/Slice" }),
        makeNode("TopK", ["X"], ["top", "top_idx"], [attr.int("k", 2)], { name: "/TopK" }),
        makeNode("Cast", ["top_idx"], ["top_idx_f"], [attr.int("to", DataType.FLOAT)], { name: "/Cast" }),
      ],
      ["clip", "relu_like", "pad", "pad_edge", "slice", "top", "top_idx_f"],
    );
    await expectSameAfterUpgrade(m);
  });

  it("refuses an op it cannot rewrite, naming the op and the node, and leaves the model as it was", () => {
    const m = model(
      9,
      [
        makeNode("ReduceMean", ["X"], ["mean"], [attr.ints("axes", [-1])], { name: "/ReduceMean" }),
        makeNode("Upsample", ["X", "scales"], ["up"], [], { name: "/decoder/Upsample_3" }),
      ],
      ["mean", "up"],
      [makeTensor("scales", [3], Float32Array.of(1, 1, 2))],
    );
    const before = structuredClone(m);
    expect(() => upgradeOpset(m, 21)).toThrow(/Upsample node "\/decoder\/Upsample_3"/);
    expect(m).toEqual(before);
    const resize = model(
      14,
      [makeNode("Resize", ["X", "", "scales"], ["up"], [], { name: "/Resize" })],
      ["up"],
      [makeTensor("scales", [3], Float32Array.of(1, 1, 2))],
    );
    expect(() => upgradeOpset(resize, 21)).toThrow(/Resize node "\/Resize"/);
  });

  it("leaves a model already at the target alone", () => {
    const m = model(21, [makeNode("Relu", ["X"], ["y"])], ["y"]);
    const before = structuredClone(m);
    upgradeOpset(m, 21);
    expect(m).toEqual(before);
  });
});

/** The decoder as an opset-14 export writes it: ReduceMean axes as an attribute, Shape without start/end. */
function opset14Decoder(): ModelProto {
  const m = buildDecoder(TINY, { weights: tinyWeights() });
  const graph = m.graph as GraphProto;
  const inits = new Map((graph.initializer ?? []).map((t) => [t.name, t]));
  const nodes: NodeProto[] = [];
  for (const n of graph.node ?? []) {
    if (n.opType === "ReduceMean") {
      const axes = inits.get(n.input?.[1]);
      const values = Array.from(new BigInt64Array(axes?.rawData?.slice().buffer ?? new ArrayBuffer(0)), Number);
      nodes.push({ ...n, input: [n.input?.[0] ?? ""], attribute: [attr.ints("axes", values), ...(n.attribute ?? [])] });
    } else if (n.opType === "Shape" && n.attribute?.length) {
      const start = n.attribute.find((a) => a.name === "start")?.i ?? 0;
      const end = n.attribute.find((a) => a.name === "end")?.i ?? 0;
      const full = `${n.output?.[0]}/full`;
      graph.initializer?.push(i64(`${full}/starts`, [start]), i64(`${full}/ends`, [end]));
      nodes.push(makeNode("Shape", [n.input?.[0] ?? ""], [full], [], { name: full }));
      nodes.push(makeNode("Slice", [full, `${full}/starts`, `${full}/ends`], [n.output?.[0] ?? ""], [], { name: n.name }));
    } else nodes.push(n);
  }
  graph.node = nodes;
  m.opsetImport = [{ domain: "", version: 14 }];
  return m;
}

function relativeL2(a: Float32Array, b: Float32Array): number {
  let num = 0;
  let den = 0;
  for (let i = 0; i < a.length; i++) {
    num += (a[i] - b[i]) ** 2;
    den += b[i] ** 2;
  }
  return Math.sqrt(num / den);
}

function quantize3bitQdq(m: ModelProto): ModelProto {
  for (const target of quantizableLinears(m).targets) {
    const q = quantizeRtn(readRowWeight(m, target), target.n, target.k, { bits: 3, groupSize: 32, symmetric: false });
    emitQuantizedLinear(m, target, q, "qdq");
  }
  return m;
}

async function logits(m: ModelProto): Promise<Float32Array> {
  const session = await ort.InferenceSession.create(encodeModel(m));
  try {
    const ids = [[5, 17, 33, 2, 60, 41, 9, 250]];
    const out = await session.run(decoderFeeds(ort, TINY, { ids }));
    return Float32Array.from(out.logits.data as Float32Array);
  } finally {
    await session.release();
  }
}

describe("3-bit qdq on an opset-14 decoder", () => {
  it("raises the opset with the ReduceMean-based RMSNorm rewritten, and gives the opset-21 model's logits", async () => {
    const old = opset14Decoder();
    expect(old.graph?.node?.filter((n) => n.opType === "ReduceMean").every((n) => n.input?.length === 1)).toBe(true);
    const float = await logits(old);
    expect(maxAbsDiff(float, await logits(buildDecoder(TINY, { weights: tinyWeights() })))).toBeLessThan(1e-4);
    const quantized = quantize3bitQdq(old);
    expect(getOpsetVersion(quantized, "")).toBe(21);
    const q = await logits(quantized);
    expect(q.every(Number.isFinite)).toBe(true);
    // the same logits as quantizing the opset-21 build
    const reference = await logits(quantize3bitQdq(buildDecoder(TINY, { weights: tinyWeights() })));
    expect(maxAbsDiff(q, reference)).toBeLessThan(1e-4);
    // 3-bit RTN of a 64-wide decoder with outlier channels keeps the logits' direction
    expect(relativeL2(q, float)).toBeLessThan(0.75);
  });
});
