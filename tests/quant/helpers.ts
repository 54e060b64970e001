import * as ort from "onnxruntime-node";
import { DataType, encodeModel, type ModelProto, type NodeProto, type TensorProto } from "../../workers/onnx/model-io";
import { Rng } from "../../workers/data/rng";

export { maxAbs, maxAbsDiff } from "../onnx/helpers";

export function valueInfo(name: string, elemType: number, dims: (number | string)[]) {
  return {
    name,
    type: { tensorType: { elemType, shape: { dim: dims.map((d) => (typeof d === "number" ? { dimValue: d } : { dimParam: d })) } } },
  };
}

/** A graph with float input A [M, K] and float output Y [M, N]. */
export function linearGraph(nodes: NodeProto[], initializers: TensorProto[], k: number, n: number): ModelProto {
  return {
    irVersion: 10,
    opsetImport: [
      { domain: "", version: 21 },
      { domain: "com.microsoft", version: 1 },
    ],
    graph: {
      name: "linear",
      node: nodes,
      initializer: initializers,
      input: [valueInfo("A", DataType.FLOAT, ["M", k])],
      output: [valueInfo("Y", DataType.FLOAT, ["M", n])],
    },
  };
}

export async function runLinear(
  model: ModelProto,
  a: Float32Array,
  m: number,
  k: number,
  options: ort.InferenceSession.SessionOptions = {},
): Promise<Float32Array> {
  const session = await ort.InferenceSession.create(encodeModel(model), options);
  try {
    const out = await session.run({ A: new ort.Tensor("float32", a, [m, k]) });
    return out.Y.data as Float32Array;
  } finally {
    await session.release();
  }
}

/** Y[m, n] = Σ_k A[m, k] W[n, k] for a row-layout weight. */
export function matmulRows(a: Float32Array, m: number, w: ArrayLike<number>, n: number, k: number): Float32Array {
  const y = new Float32Array(m * n);
  for (let i = 0; i < m; i++) {
    for (let j = 0; j < n; j++) {
      let s = 0;
      for (let t = 0; t < k; t++) s += a[i * k + t] * w[j * k + t];
      y[i * n + j] = s;
    }
  }
  return y;
}

export function gaussian(count: number, seed: number, std = 1): Float32Array {
  const rng = new Rng(seed);
  return Float32Array.from({ length: count }, () => rng.normal() * std);
}
