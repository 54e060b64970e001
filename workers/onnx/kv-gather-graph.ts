/**
 * The KV-cache gather graph: keeps, per kv head, the cache entries an index names, where the cache
 * lies. Under webgpu the decoder's present tensors are GPU buffers; running this graph on them
 * (outputs kept on the device) evicts or crops the cache without reading it back, and only the
 * index (and the rotation tables) go up.
 *
 *   cache [1, kv_heads, length, head_dim] float32, index [1, kv_heads, kept, 1] int32
 *   kept  [1, kv_heads, kept, head_dim] = GatherElements(cache, Expand(index), axis 2)
 *
 * The index is int32: onnxruntime-web 1.30's WebGPU EP has no int64 kernel for Expand (nor for
 * Tile, Concat, Mul or Add), so an int64 index would be expanded on the CPU and uploaded
 * head_dim times larger. GatherElements takes either.
 *
 * The rotating variant also takes cos and sin [1, 1, kept, head_dim / 2] (one angle per kept slot,
 * shared by the heads; `rotationTables`) and rotates each kept key back in the rotate-half layout,
 * as DecoderSession's rotateRows does on the host: x1*cos + x2*sin, x2*cos - x1*sin.
 *
 * kv_heads, length and kept are symbolic, so one session serves every layer (structurally pruned
 * layers differ in kv heads) and every cache length; head_dim is fixed per model. Only ops the
 * WebGPU EP of onnxruntime-web runs on the GPU (tests/onnx/kv-gather-webgpu.test.ts).
 */
import { DataType, attr, encodeModel, makeNode, makeTensor, type ModelProto, type NodeProto, type TensorProto, type ValueInfoProto } from "./model-io";

/** The decoder graphs' opset (decoder-builder.ts). */
const KV_GATHER_OPSET = 21;
const IR_VERSION = 10;

export const KV_GATHER_IO = { cache: "cache", index: "index", cos: "cos", sin: "sin", kept: "kept" } as const;

export interface KvGatherOptions {
  /** Adds the cos and sin inputs and rotates the kept rows back (keys of a graph caching rotated keys). */
  rotate?: boolean;
}

export function buildKvGatherGraph(headDim: number, opts: KvGatherOptions = {}): ModelProto {
  if (!Number.isInteger(headDim) || headDim <= 0 || (opts.rotate && headDim % 2 !== 0)) {
    throw new Error(`kv gather graph: head_dim ${headDim} must be a positive integer${opts.rotate ? ", even to rotate" : ""}`);
  }
  const D = headDim;
  const half = D / 2;
  const { cache, index, cos, sin, kept } = KV_GATHER_IO;
  const i64 = (name: string, values: number[]) => makeTensor(name, [values.length], BigInt64Array.from(values.map(BigInt)));
  const initializers: TensorProto[] = [i64("gather/rows", [1, 1, 1, D])];
  const gathered = opts.rotate ? "gather/kept" : kept;
  const nodes: NodeProto[] = [
    // the index names a whole row: broadcast it over head_dim, as GatherElements wants
    makeNode("Expand", [index, "gather/rows"], ["gather/index_rows"]),
    makeNode("GatherElements", [cache, "gather/index_rows"], [gathered], [attr.int("axis", 2)]),
  ];
  const inputs: ValueInfoProto[] = [
    tensorInfo(cache, DataType.FLOAT, [1, "kv_heads", "length", D]),
    tensorInfo(index, DataType.INT32, [1, "kv_heads", "kept", 1]),
  ];
  if (opts.rotate) {
    inputs.push(tensorInfo(cos, DataType.FLOAT, [1, 1, "kept", half]), tensorInfo(sin, DataType.FLOAT, [1, 1, "kept", half]));
    initializers.push(i64("rotate/zero", [0]), i64("rotate/half", [half]), i64("rotate/end", [D]), i64("rotate/axis", [3]));
    nodes.push(
      makeNode("Slice", [gathered, "rotate/zero", "rotate/half", "rotate/axis"], ["rotate/x1"]),
      makeNode("Slice", [gathered, "rotate/half", "rotate/end", "rotate/axis"], ["rotate/x2"]),
      makeNode("Mul", ["rotate/x1", cos], ["rotate/x1cos"]),
      makeNode("Mul", ["rotate/x2", sin], ["rotate/x2sin"]),
      makeNode("Mul", ["rotate/x2", cos], ["rotate/x2cos"]),
      makeNode("Mul", ["rotate/x1", sin], ["rotate/x1sin"]),
      makeNode("Add", ["rotate/x1cos", "rotate/x2sin"], ["rotate/out1"]),
      makeNode("Sub", ["rotate/x2cos", "rotate/x1sin"], ["rotate/out2"]),
      makeNode("Concat", ["rotate/out1", "rotate/out2"], [kept], [attr.int("axis", 3)]),
    );
  }
  return {
    irVersion: IR_VERSION,
    producerName: "frontier",
    producerVersion: "kv-gather-graph",
    opsetImport: [{ domain: "", version: KV_GATHER_OPSET }],
    graph: {
      name: opts.rotate ? "kv_gather_rotate" : "kv_gather",
      node: nodes,
      initializer: initializers,
      input: inputs,
      output: [tensorInfo(kept, DataType.FLOAT, [1, "kv_heads", "kept", D])],
    },
  };
}

/** The graph's bytes, for InferenceSession.create. */
export function kvGatherModel(headDim: number, opts: KvGatherOptions = {}): Uint8Array {
  return encodeModel(buildKvGatherGraph(headDim, opts));
}

/**
 * The rotating graph's cos and sin, [kept, head_dim / 2] each: slot j turns by shift[j] * inv_freq[i],
 * inv_freq[i] = theta^(-2i / head_dim), computed as rotateRows computes its angles.
 */
export function rotationTables(shift: ArrayLike<number>, headDim: number, theta: number): { cos: Float32Array; sin: Float32Array } {
  const half = headDim / 2;
  const cos = new Float32Array(shift.length * half);
  const sin = new Float32Array(shift.length * half);
  for (let j = 0; j < shift.length; j++) {
    for (let i = 0; i < half; i++) {
      const a = shift[j] * theta ** ((-2 * i) / headDim);
      cos[j * half + i] = Math.cos(a);
      sin[j * half + i] = Math.sin(a);
    }
  }
  return { cos, sin };
}

function tensorInfo(name: string, elemType: number, dims: (number | string)[]): ValueInfoProto {
  return {
    name,
    type: { tensorType: { elemType, shape: { dim: dims.map((d) => (typeof d === "number" ? { dimValue: d } : { dimParam: d })) } } },
  };
}
