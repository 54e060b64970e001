/**
 * W8A8 linears (SmoothQuant's format): int8 weights per output channel, int8 activations quantized
 * at run time, an integer matmul, and one float rescale.
 *
 * Quantizers follow the SmoothQuant reference (mit-han-lab/smoothquant `fake_quant.py`):
 * - weights: per output channel, symmetric absmax, scale = max|w| / 127 (at least 1e-5), codes in
 *   [-127, 127];
 * - activations: symmetric absmax per token (the reference's default) or per tensor, scale =
 *   max|x| / 127 (at least 1e-5), codes round-half-to-even in [-127, 127].
 *
 * Integer formulation, and why: both operands are stored as uint8 with zero point 128 and multiplied
 * by MatMulInteger(uint8, uint8). onnxruntime's u8 x s8 GEMM on x86 CPUs with AVX2 but without
 * AVX-512 VNNI / AVX-VNNI adds pairs of u8·s8 products in 16 bits with saturation (vpmaddubsw), so
 * full-range int8 weights overflow there (a test measured 56% error); its u8 x u8 kernels widen to
 * 16 bits first and add in 32 bits (vpmaddwd), which is exact on every x86 path. Every product
 * (a - 128)(b - 128) is at most 127² and a row of K of them fits int32 for any K below 133,000, so
 * y = int32 sum · x_scale · w_scale is exact integer arithmetic on every CPU. The weights keep all
 * 8 bits (no reduce-range).
 */
import {
  attr,
  DataType,
  getOpsetVersion,
  makeNode,
  removeInitializer,
  setInitializer,
  type LinearWeight,
  type ModelProto,
  type NodeProto,
} from "../../onnx/model-io";
import type { StorageBytes } from "./quant-math";

export type ActQuant = "per-token" | "per-tensor";

/** The reference's lower bound on a quantization scale (clamp(min=1e-5)). */
export const MIN_SCALE = 1e-5;

export interface Int8Weight {
  rows: number;
  cols: number;
  /** Row-major [rows = out features, cols = in features], values in [-127, 127]. */
  codes: Int8Array;
  /** One float32 scale per output channel. */
  scales: Float32Array;
}

/** Per-output-channel symmetric absmax int8 of a row-layout weight W[rows, cols]. */
export function quantizeInt8PerChannel(w: ArrayLike<number>, rows: number, cols: number): Int8Weight {
  if (w.length !== rows * cols) throw new Error(`weight has ${w.length} values, expected ${rows}x${cols}`);
  const codes = new Int8Array(rows * cols);
  const scales = new Float32Array(rows);
  for (let r = 0; r < rows; r++) {
    let m = 0;
    for (let c = 0; c < cols; c++) m = Math.max(m, Math.abs(w[r * cols + c]));
    const s = Math.fround(Math.max(m / 127, MIN_SCALE));
    scales[r] = s;
    for (let c = 0; c < cols; c++) codes[r * cols + c] = Math.max(-127, Math.min(127, roundHalfEven(w[r * cols + c] / s)));
  }
  return { rows, cols, codes, scales };
}

export function roundHalfEven(v: number): number {
  const r = Math.round(v);
  return Math.abs(v % 1) === 0.5 && r % 2 !== 0 ? r - 1 : r;
}

function nodeIndexOf(model: ModelProto, node: NodeProto): number {
  const i = model.graph?.node?.indexOf(node) ?? -1;
  if (i < 0) throw new Error(`node ${node.name} is no longer in the graph`);
  return i;
}

/** ReduceMax over the last axis (keepdims) or over everything; `axes` moved from attribute to input at opset 18. */
function reduceMax(model: ModelProto, input: string, output: string, name: string, perToken: boolean, axesName: string): NodeProto {
  if (!perToken) return makeNode("ReduceMax", [input], [output], [attr.int("keepdims", 0)], { name });
  const opset = getOpsetVersion(model, "") ?? 21;
  if (opset >= 18) {
    setInitializer(model, axesName, [1], BigInt64Array.from([-1n]));
    return makeNode("ReduceMax", [input, axesName], [output], [attr.int("keepdims", 1)], { name });
  }
  return makeNode("ReduceMax", [input], [output], [attr.ints("axes", [-1]), attr.int("keepdims", 1)], { name });
}

/**
 * Rewrites every linear of `members` (all reading `input`) into W8A8. The activation is quantized
 * once for the group; returns the bytes stored for the weights (codes and scales).
 */
export function emitW8A8Group(
  model: ModelProto,
  input: string,
  members: readonly { target: LinearWeight; weight: Int8Weight }[],
  actQuant: ActQuant = "per-token",
): StorageBytes {
  const nodes = model.graph?.node ?? [];
  const first = Math.min(...members.map((m) => nodeIndexOf(model, m.target.node)));
  const p = `${input}/w8a8`;
  const perToken = actQuant === "per-token";
  const c = (suffix: string) => `${p}/${suffix}`;
  setInitializer(model, c("eps"), [], Float32Array.of(MIN_SCALE));
  setInitializer(model, c("qmax"), [], Float32Array.of(127));
  setInitializer(model, c("lo"), [], Float32Array.of(-127));
  setInitializer(model, c("offset"), [], Float32Array.of(128));
  setInitializer(model, c("zero_point"), [], Uint8Array.of(128));
  // x_scale = max(max|x| / 127, 1e-5); x_q = clip(round(x / x_scale), -127, 127) + 128 as uint8
  const quantize = [
    makeNode("Abs", [input], [c("abs")], [], { name: c("Abs") }),
    reduceMax(model, c("abs"), c("absmax"), c("ReduceMax"), perToken, c("axes")),
    makeNode("Div", [c("absmax"), c("qmax")], [c("scale_raw")], [], { name: c("Div_qmax") }),
    makeNode("Max", [c("scale_raw"), c("eps")], [c("x_scale")], [], { name: c("Max_eps") }),
    makeNode("Div", [input, c("x_scale")], [c("scaled")], [], { name: c("Div_scale") }),
    makeNode("Round", [c("scaled")], [c("rounded")], [], { name: c("Round") }),
    makeNode("Clip", [c("rounded"), c("lo"), c("qmax")], [c("clipped")], [], { name: c("Clip") }),
    makeNode("Add", [c("clipped"), c("offset")], [c("shifted")], [], { name: c("Add_offset") }),
    makeNode("Cast", [c("shifted")], [c("x_q")], [attr.int("to", DataType.UINT8)], { name: c("Cast_u8") }),
  ];
  nodes.splice(first, 0, ...quantize);
  const storage: StorageBytes = { codes: 0, scales: 0, zeros: 0 };
  for (const { target: lin, weight } of members) {
    if (weight.rows !== lin.n || weight.cols !== lin.k)
      throw new Error(`${lin.weightName}: int8 weight is ${weight.rows}x${weight.cols}, the layer is ${lin.n}x${lin.k}`);
    if (lin.node.input?.[0] !== input) throw new Error(`${lin.weightName} does not read ${input}`);
    const index = nodeIndexOf(model, lin.node);
    const [, , bias] = lin.node.input ?? [];
    const output = lin.node.output?.[0] ?? "";
    const base = lin.weightName;
    const name = lin.node.name ?? output;
    // [K, N] for MatMulInteger, stored as uint8 with zero point 128
    const codes = new Uint8Array(lin.k * lin.n);
    for (let n = 0; n < lin.n; n++) for (let k = 0; k < lin.k; k++) codes[k * lin.n + n] = weight.codes[n * lin.k + k] + 128;
    removeInitializer(model, base);
    setInitializer(model, `${base}.qweight`, [lin.k, lin.n], codes);
    setInitializer(model, `${base}.scales`, [lin.n], Float32Array.from(weight.scales));
    const out = bias ? `${output}/nobias` : output;
    const replacement = [
      makeNode("MatMulInteger", [c("x_q"), `${base}.qweight`, c("zero_point"), c("zero_point")], [`${name}/int32`], [], { name: `${name}/MatMulInteger` }),
      makeNode("Cast", [`${name}/int32`], [`${name}/float`], [attr.int("to", DataType.FLOAT)], { name: `${name}/Cast` }),
      makeNode("Mul", [`${name}/float`, c("x_scale")], [`${name}/xscaled`], [], { name: `${name}/x_scale` }),
      makeNode("Mul", [`${name}/xscaled`, `${base}.scales`], [out], [], { name: `${name}/w_scale` }),
    ];
    if (bias) replacement.push(makeNode("Add", [out, bias], [output], [], { name: `${name}/bias` }));
    nodes.splice(index, 1, ...replacement);
    storage.codes += codes.byteLength;
    storage.scales += 4 * lin.n;
  }
  return storage;
}

/** One line for the run's notes saying exactly what was emitted. */
export function describeW8A8(actQuant: ActQuant): string {
  return (
    `format w8a8: int8 weights per output channel (symmetric absmax, codes ±127) and int8 activations ` +
    `quantized at run time ${actQuant === "per-token" ? "per token" : "per tensor"} (symmetric absmax), ` +
    "both stored as uint8 with zero point 128 and multiplied by MatMulInteger(uint8, uint8), whose integer sums are exact on every x86 kernel path"
  );
}
