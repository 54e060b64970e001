import { existsSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import * as ort from "onnxruntime-node";
import { afterAll, describe, expect, it } from "vitest";
import {
  DataType,
  addNode,
  attr,
  findLinearWeights,
  getInitializer,
  getOpsetImports,
  getOpsetVersion,
  initializerBytes,
  makeNode,
  makeTensor,
  modelBytes,
  readModel,
  removeInitializer,
  replaceNode,
  setInitializer,
  setOpsetImport,
  writeModel,
  type ModelProto,
} from "@/workers/onnx/model-io";

const dir = mkdtempSync(path.join(os.tmpdir(), "frontier-onnx-io-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const W = Float32Array.from({ length: 4 * 3 }, (_, i) => (i - 5) * 0.25);
const G = Float32Array.from({ length: 2 * 3 }, (_, i) => i + 1); // Gemm B with transB=1: [n=2, k=3]
const B = Float32Array.from([0.5, -1, 2]);

/** y = reshape(x @ W + B) ; z = Gemm(y2d, G^T): a MatMul and a transB Gemm over initializers. */
function smallModel(): ModelProto {
  const model: ModelProto = {
    irVersion: 10,
    producerName: "frontier-test",
    opsetImport: [{ domain: "", version: 21 }],
    graph: {
      name: "small",
      input: [{ name: "x", type: { tensorType: { elemType: DataType.FLOAT, shape: { dim: [{ dimParam: "n" }, { dimValue: 4 }] } } } }],
      output: [
        { name: "y", type: { tensorType: { elemType: DataType.FLOAT, shape: { dim: [{ dimParam: "n" }, { dimValue: 3 }] } } } },
        { name: "z", type: { tensorType: { elemType: DataType.FLOAT } } },
      ],
      initializer: [makeTensor("w", [4, 3], W), makeTensor("b", [3], B), makeTensor("g", [2, 3], G), makeTensor("shape", [2], BigInt64Array.from([-1n, 3n]))],
      node: [
        makeNode("MatMul", ["x", "w"], ["xw"]),
        makeNode("Add", ["xw", "b"], ["xwb"]),
        makeNode("Reshape", ["xwb", "shape"], ["y"]),
        makeNode("Gemm", ["y", "g"], ["z"], [attr.int("transB", 1)]),
      ],
    },
  };
  return model;
}

const X = Float32Array.from([1, 2, 3, 4, -1, 0, 0.5, 2]);

function expected(): { y: number[]; z: number[] } {
  const y: number[] = [];
  for (let r = 0; r < 2; r++)
    for (let c = 0; c < 3; c++) {
      let s = B[c];
      for (let k = 0; k < 4; k++) s += X[r * 4 + k] * W[k * 3 + c];
      y.push(s);
    }
  const z: number[] = [];
  for (let r = 0; r < 2; r++)
    for (let o = 0; o < 2; o++) {
      let s = 0;
      for (let k = 0; k < 3; k++) s += y[r * 3 + k] * G[o * 3 + k];
      z.push(s);
    }
  return { y, z };
}

async function runOrt(file: string) {
  const session = await ort.InferenceSession.create(file);
  try {
    const out = await session.run({ x: new ort.Tensor("float32", X, [2, 4]) });
    return { y: Array.from(out.y.data as Float32Array), z: Array.from(out.z.data as Float32Array) };
  } finally {
    await session.release();
  }
}

describe("ModelProto IO", () => {
  it("round-trips inline tensors and ORT runs the written file", async () => {
    const file = path.join(dir, "inline.onnx");
    writeModel(smallModel(), file);
    expect(existsSync(`${file}.data`)).toBe(false);
    const back = readModel(file);
    expect(getInitializer(back, "w")).toEqual({ name: "w", dims: [4, 3], dataType: DataType.FLOAT, data: W });
    expect(getInitializer(back, "shape").data).toEqual(BigInt64Array.from([-1n, 3n]));
    const out = await runOrt(file);
    const want = expected();
    out.y.forEach((v, i) => expect(v).toBeCloseTo(want.y[i], 5));
    out.z.forEach((v, i) => expect(v).toBeCloseTo(want.z[i], 5));
  });

  it("moves large initializers to an aligned external data file and reads them back", async () => {
    const file = path.join(dir, "ext.onnx");
    const { dataBytes } = writeModel(smallModel(), file, { externalDataThreshold: 24 });
    const data = `${file}.data`;
    expect(existsSync(data)).toBe(true);
    // w (48 B) and g (24 B) go out, g at the next 4096-byte boundary; b (12 B) and shape stay inline
    expect(dataBytes).toBe(4096 + 24);
    expect(statSync(data).size).toBe(4096 + 24);
    expect(modelBytes(file)).toBe(statSync(file).size + statSync(data).size);

    const lazy = readModel(file, { loadExternalData: false });
    const w = lazy.graph!.initializer!.find((t) => t.name === "w")!;
    expect(w.dataLocation).toBe(1);
    expect(w.rawData).toBeUndefined();
    expect(getInitializer(lazy, "w").data).toEqual(W);
    expect(initializerBytes(lazy)).toBe(48 + 12 + 24 + 16);

    const eager = readModel(file);
    expect(getInitializer(eager, "g").data).toEqual(G);
    expect(eager.graph!.initializer!.every((t) => t.dataLocation !== 1)).toBe(true);

    const out = await runOrt(file);
    out.y.forEach((v, i) => expect(v).toBeCloseTo(expected().y[i], 5));

    // a lazily read model written back over its own files keeps its data
    writeModel(lazy, file, { externalDataThreshold: 24 });
    expect(getInitializer(readModel(file), "w").data).toEqual(W);
    const inlined = path.join(dir, "from-lazy.onnx");
    writeModel(readModel(file, { loadExternalData: false }), inlined);
    expect(existsSync(`${inlined}.data`)).toBe(false);
    expect((await runOrt(inlined)).z).toEqual(out.z);
  });

  it("edits initializers, nodes and opsets", async () => {
    const model = smallModel();
    expect(() => setInitializer(model, "w", [4, 4], W)).toThrow(/dims \[4, 4\].*need 64 bytes, got 48/);
    const W2 = W.map((v) => v * 2);
    setInitializer(model, "w", [4, 3], W2);
    expect(model.graph!.initializer!.filter((t) => t.name === "w")).toHaveLength(1);
    expect(getInitializer(model, "w").data).toEqual(W2);
    expect(() => getInitializer(model, "nope")).toThrow(/"nope" not found/);

    // y = x @ W2 + B, then negate before the Gemm
    replaceNode(model, "z", [makeNode("Neg", ["y"], ["yneg"]), makeNode("Gemm", ["yneg", "g"], ["z"], [attr.int("transB", 1)])]);
    expect(model.graph!.node!.map((n) => n.opType)).toEqual(["MatMul", "Add", "Reshape", "Neg", "Gemm"]);
    expect(() => replaceNode(model, "missing", [])).toThrow(/not found/);

    setInitializer(model, "unused", [2], Float32Array.from([1, 2]));
    expect(removeInitializer(model, "unused")).toBe(true);
    expect(removeInitializer(model, "unused")).toBe(false);

    setOpsetImport(model, "com.microsoft", 1);
    setOpsetImport(model, "ai.onnx", 21);
    expect(getOpsetImports(model)).toEqual([
      { domain: "", version: 21 },
      { domain: "com.microsoft", version: 1 },
    ]);
    expect(getOpsetVersion(model, "com.microsoft")).toBe(1);

    addNode(model, makeNode("Identity", ["z"], ["z_copy"]));
    model.graph!.output!.push({ name: "z_copy", type: { tensorType: { elemType: DataType.FLOAT } } });

    const file = path.join(dir, "edited.onnx");
    writeModel(model, file);
    const session = await ort.InferenceSession.create(readFileSync(file));
    const out = await session.run({ x: new ort.Tensor("float32", X, [2, 4]) });
    await session.release();
    const want = expected();
    const y = Array.from(out.y.data as Float32Array);
    y.forEach((v, i) => expect(v).toBeCloseTo(2 * want.y[i] - B[i % 3], 4));
    expect(Array.from(out.z_copy.data as Float32Array)).toEqual(Array.from(out.z.data as Float32Array));
    const z0 = -(y[0] * G[0] + y[1] * G[1] + y[2] * G[2]);
    expect((out.z.data as Float32Array)[0]).toBeCloseTo(z0, 4);
  });

  it("finds MatMul and Gemm weights with their K and N", () => {
    const found = findLinearWeights(smallModel()).map(({ op, weightName, k, n, transposed, nodeIndex }) => ({
      op,
      weightName,
      k,
      n,
      transposed,
      nodeIndex,
    }));
    expect(found).toEqual([
      { op: "MatMul", weightName: "w", k: 4, n: 3, transposed: false, nodeIndex: 0 },
      { op: "Gemm", weightName: "g", k: 3, n: 2, transposed: true, nodeIndex: 3 },
    ]);
  });

  it("keeps INT64_MAX/MIN attributes (Slice's 'to the end') through decode and encode", () => {
    const model = smallModel();
    model.graph!.node!.push(makeNode("Identity", ["z"], ["z2"], [attr.ints("marker", [2 ** 63, -(2 ** 63), 5])]));
    const file = path.join(dir, "int64.onnx");
    writeModel(model, file);
    const back = readModel(file);
    const ints = back.graph!.node!.at(-1)!.attribute![0].ints!;
    expect(ints).toEqual([2 ** 63, -(2 ** 63), 5]);
    // and written again, they stay at the int64 limits instead of wrapping around
    writeModel(back, file);
    expect(readModel(file).graph!.node!.at(-1)!.attribute![0].ints).toEqual([2 ** 63, -(2 ** 63), 5]);
    const raw = readFileSync(file);
    // INT64_MAX as a varint: nine 0xff bytes then 0x7f
    expect(raw.includes(Buffer.from([0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x7f]))).toBe(true);
  });

  it("names what is wrong with a file that is not a model", () => {
    const file = path.join(dir, "junk.onnx");
    writeFileSync(file, Buffer.from([0xff, 0xff, 0xff, 0xff, 0x0f]));
    expect(() => readModel(file)).toThrow(/not an ONNX model/);
  });
});
