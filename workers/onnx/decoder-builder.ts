import { closeSync, existsSync, mkdirSync, openSync, renameSync, rmSync, writeFileSync } from "node:fs";
import path from "node:path";
import {
  DataLocation,
  DataType,
  attr,
  encodeModel,
  makeTensor,
  writeAll,
  type AttributeProto,
  type ModelProto,
  type NodeProto,
  type TensorProto,
  type ValueInfoProto,
} from "./model-io";
import {
  MASK_NEG,
  NEW_KV_PREFIX,
  decoderParamCount,
  decoderWeightShapes,
  headDim,
  isNormWeight,
  parseDecoderConfig,
  validateDecoderWeights,
  type DecoderConfig,
  type DecoderConfigInput,
} from "./decoder-config";
import { fillNormal } from "./random";
import { minimalTokenizerJson } from "./tokenizer-json";

export const DECODER_OPSET = 21;
const IR_VERSION = 10;
/** Random initialisation of shape-only models (docs/decoder.md weights; norms are 1). */
export const INIT_STD = 0.02;

export interface DecoderBuildOptions {
  /** Trained weights by docs/decoder.md name, [in, out] orientation. Absent: seeded random weights. */
  weights?: Map<string, Float32Array>;
  /** Seed of the random weights (default 0). */
  seed?: number;
}

/** Produces the initializer for one weight; lets the graph be built in memory or streamed to disk. */
type WeightEmitter = (name: string, dims: number[], data: Float32Array) => TensorProto;

/** The decoder of docs/decoder.md as an in-memory ModelProto (all weights inline). */
export function buildDecoder(configInput: DecoderConfigInput | DecoderConfig, opts: DecoderBuildOptions = {}): ModelProto {
  const config = parseDecoderConfig(configInput);
  if (opts.weights) validateDecoderWeights(config, opts.weights);
  // given weights are copied so a caller that keeps training them cannot change the model
  const emit: WeightEmitter = (name, dims, data) => makeTensor(name, dims, opts.weights?.has(name) ? data.slice() : data);
  return buildGraph(config, weightSource(opts), emit);
}

export interface WriteDecoderOptions extends DecoderBuildOptions {
  /** tokenizer.json content (object or JSON text). Absent: a minimal byte-level tokenizer. */
  tokenizer?: unknown;
  /**
   * Weights of at least this many bytes go to `model.onnx.data`. Default: inline when all weights
   * total under 1 GiB, otherwise external for every weight.
   */
  externalDataThreshold?: number;
  /** Extra metadata_props on the model (e.g. { "frontier.shape_only": "true" }). */
  metadata?: Record<string, string>;
}

export interface WrittenDecoder {
  dir: string;
  files: { model: string; config: string; tokenizer: string; data?: string };
  params: number;
  /** model.onnx plus model.onnx.data. */
  bytes: number;
}

const INLINE_DEFAULT_LIMIT = 2 ** 30;
const EXTERNAL_ALIGN = 4096;

/**
 * Writes model.onnx (+ model.onnx.data when large), config.json and tokenizer.json into `dir`.
 * Weights are produced and written one at a time, so a 1.1B-parameter model never sits in memory
 * whole: peak memory is about the largest single weight.
 */
export function writeDecoder(dir: string, configInput: DecoderConfigInput | DecoderConfig, opts: WriteDecoderOptions = {}): WrittenDecoder {
  const config = parseDecoderConfig(configInput);
  if (opts.weights) validateDecoderWeights(config, opts.weights);
  mkdirSync(dir, { recursive: true });
  const params = decoderParamCount(config);
  const threshold = opts.externalDataThreshold ?? (params * 4 >= INLINE_DEFAULT_LIMIT ? 1024 : Infinity);
  const modelFile = path.join(dir, "model.onnx");
  const dataName = "model.onnx.data";
  const dataFile = path.join(dir, dataName);
  const tmp = `.tmp-${process.pid}`;

  let fd: number | null = null;
  let offset = 0;
  const emit: WeightEmitter = (name, dims, data) => {
    if (data.byteLength < threshold) return makeTensor(name, dims, data.slice());
    if (fd === null) fd = openSync(dataFile + tmp, "w");
    const start = Math.ceil(offset / EXTERNAL_ALIGN) * EXTERNAL_ALIGN;
    writeAll(fd, new Uint8Array(data.buffer, data.byteOffset, data.byteLength), start);
    offset = start + data.byteLength;
    return {
      name,
      dims,
      dataType: DataType.FLOAT,
      dataLocation: DataLocation.EXTERNAL,
      externalData: [
        { key: "location", value: dataName },
        { key: "offset", value: String(start) },
        { key: "length", value: String(data.byteLength) },
      ],
    };
  };

  try {
    const model = buildGraph(config, weightSource(opts, true), emit);
    for (const [key, value] of Object.entries(opts.metadata ?? {})) model.metadataProps!.push({ key, value });
    const bytes = encodeModel(model);
    writeFileSync(modelFile + tmp, bytes);
    if (fd !== null) {
      closeSync(fd);
      fd = null;
      renameSync(dataFile + tmp, dataFile);
    } else if (existsSync(dataFile)) {
      rmSync(dataFile);
    }
    renameSync(modelFile + tmp, modelFile);
    const wroteData = offset > 0;
    writeFileSync(path.join(dir, "config.json"), JSON.stringify(config, null, 2) + "\n");
    const tokenizer = opts.tokenizer ?? minimalTokenizerJson(config.vocab_size);
    writeFileSync(path.join(dir, "tokenizer.json"), typeof tokenizer === "string" ? tokenizer : JSON.stringify(tokenizer));
    return {
      dir,
      files: { model: "model.onnx", config: "config.json", tokenizer: "tokenizer.json", ...(wroteData ? { data: dataName } : {}) },
      params,
      bytes: bytes.byteLength + (wroteData ? offset : 0),
    };
  } catch (e) {
    if (fd !== null) closeSync(fd);
    rmSync(dataFile + tmp, { force: true });
    rmSync(modelFile + tmp, { force: true });
    throw e;
  }
}

/**
 * Returns each weight's values on demand: the given tensor, or a fresh seeded random one.
 * `reuse` lets the streaming writer recycle one scratch buffer per shape instead of allocating
 * gigabytes of short-lived arrays.
 */
function weightSource(opts: DecoderBuildOptions, reuse = false): (name: string, dims: number[]) => Float32Array {
  const scratch = new Map<number, Float32Array>();
  return (name, dims) => {
    const given = opts.weights?.get(name);
    if (given) return given;
    const n = dims.reduce((p, d) => p * d, 1);
    let out = reuse ? scratch.get(n) : undefined;
    if (!out) {
      out = new Float32Array(n);
      if (reuse) scratch.set(n, out);
    }
    return isNormWeight(name) ? out.fill(1) : fillNormal(out, INIT_STD, opts.seed ?? 0, name);
  };
}

/** cos and sign-folded sin tables, [max_position, head_dim], rotate-half layout (docs/decoder.md). */
export function rotaryTables(config: DecoderConfig): { cos: Float32Array; sin: Float32Array } {
  const d = headDim(config);
  const half = d / 2;
  const cos = new Float32Array(config.max_position * d);
  const sin = new Float32Array(config.max_position * d);
  for (let p = 0; p < config.max_position; p++) {
    for (let j = 0; j < half; j++) {
      const angle = p * Math.pow(config.rope_theta, (-2 * j) / d);
      const c = Math.cos(angle);
      const s = Math.sin(angle);
      cos[p * d + j] = c;
      cos[p * d + half + j] = c;
      // rotate_half(x) * sin == cat(x2, x1) * cat(-sin, sin): the swap is two Slices and a Concat
      sin[p * d + j] = -s;
      sin[p * d + half + j] = s;
    }
  }
  return { cos, sin };
}

class Graph {
  nodes: NodeProto[] = [];
  initializers: TensorProto[] = [];
  private count = 0;
  private consts = new Map<string, string>();

  op(opType: string, inputs: string[], attributes: AttributeProto[] = [], name?: string): string {
    const out = name ?? `/${opType}_${this.count++}`;
    this.nodes.push({ opType, input: inputs, output: [out], attribute: attributes, name: out, domain: "" });
    return out;
  }

  i64(values: number[], scalar = false): string {
    const key = `i64:${scalar}:${values.join(",")}`;
    let name = this.consts.get(key);
    if (!name) {
      name = `const.i64.${scalar ? "s" : ""}${values.join("_").replace(/-/g, "m")}`;
      this.initializers.push(makeTensor(name, scalar ? [] : [values.length], BigInt64Array.from(values.map(BigInt))));
      this.consts.set(key, name);
    }
    return name;
  }

  f32(value: number): string {
    const key = `f32:${value}`;
    let name = this.consts.get(key);
    if (!name) {
      name = `const.f32.${this.consts.size}`;
      this.initializers.push(makeTensor(name, [], Float32Array.of(value)));
      this.consts.set(key, name);
    }
    return name;
  }
}

function tensorInfo(name: string, elemType: number, dims: (number | string)[]): ValueInfoProto {
  return {
    name,
    type: {
      tensorType: {
        elemType,
        shape: { dim: dims.map((d) => (typeof d === "number" ? { dimValue: d } : { dimParam: d })) },
      },
    },
  };
}

function buildGraph(config: DecoderConfig, weight: (name: string, dims: number[]) => Float32Array, emit: WeightEmitter): ModelProto {
  const g = new Graph();
  const shapes = decoderWeightShapes(config);
  const weightInput = (name: string): string => {
    const dims = shapes.get(name);
    if (!dims) throw new Error(`internal: no weight named ${name}`);
    g.initializers.push(emit(name, dims, weight(name, dims)));
    return name;
  };
  const nh = config.num_heads;
  const nkv = config.num_kv_heads;
  const D = headDim(config);
  const rep = nh / nkv;

  const { cos, sin } = rotaryTables(config);
  g.initializers.push(makeTensor("rotary.cos", [config.max_position, D], cos));
  g.initializers.push(makeTensor("rotary.sin", [config.max_position, D], sin));

  const rmsnorm = (x: string, w: string, p: string) => {
    const sq = g.op("Mul", [x, x], [], `${p}/sq`);
    const ms = g.op("ReduceMean", [sq, g.i64([-1])], [attr.int("keepdims", 1)], `${p}/mean`);
    const rms = g.op("Sqrt", [g.op("Add", [ms, g.f32(config.rms_eps)], [], `${p}/add_eps`)], [], `${p}/rms`);
    return g.op("Mul", [g.op("Div", [x, rms], [], `${p}/normed`), w], [], `${p}/out`);
  };

  // Embedding and rotary tables gathered at position_ids: [B, 1, T, D], broadcast over heads.
  const embed = weightInput("embed_tokens.weight");
  let x = g.op("Gather", [embed, "input_ids"], [attr.int("axis", 0)], "/embed");
  const cosT = g.op("Unsqueeze", [g.op("Gather", ["rotary.cos", "position_ids"], [], "/rotary/cos_gather"), g.i64([1])], [], "/rotary/cos");
  const sinT = g.op("Unsqueeze", [g.op("Gather", ["rotary.sin", "position_ids"], [], "/rotary/sin_gather"), g.i64([1])], [], "/rotary/sin");

  // Additive mask [B, 1, T, S], S = past + T: key j is visible to query i (absolute index
  // past + i) when j <= past + i and attention_mask[b, j] != 0.
  const T = g.op("Shape", ["input_ids"], [attr.int("start", 1), attr.int("end", 2)], "/mask/T");
  const S = g.op("Shape", ["attention_mask"], [attr.int("start", 1), attr.int("end", 2)], "/mask/S");
  const Ss = g.op("Squeeze", [S, g.i64([0])], [], "/mask/S_scalar");
  const Ps = g.op("Squeeze", [g.op("Sub", [S, T], [], "/mask/P"), g.i64([0])], [], "/mask/P_scalar");
  const one = g.i64([1], true);
  const zero = g.i64([0], true);
  const kIdx = g.op("Range", [zero, Ss, one], [], "/mask/k_idx");
  const qIdx = g.op("Range", [Ps, Ss, one], [], "/mask/q_idx");
  const causal = g.op(
    "LessOrEqual",
    [g.op("Unsqueeze", [kIdx, g.i64([0])], [], "/mask/k_row"), g.op("Unsqueeze", [qIdx, g.i64([1])], [], "/mask/q_col")],
    [],
    "/mask/causal",
  );
  const causalF = g.op("Cast", [causal], [attr.int("to", DataType.FLOAT)], "/mask/causal_f");
  const padF = g.op(
    "Cast",
    [g.op("Cast", ["attention_mask"], [attr.int("to", DataType.BOOL)], "/mask/pad_bool")],
    [attr.int("to", DataType.FLOAT)],
    "/mask/pad_f",
  );
  const pad4 = g.op("Unsqueeze", [padF, g.i64([1, 2])], [], "/mask/pad_4d");
  const allowed = g.op("Mul", [causalF, pad4], [], "/mask/allowed");
  const bias = g.op("Mul", [g.op("Sub", [allowed, g.f32(1)], [], "/mask/blocked"), g.f32(-MASK_NEG)], [], "/mask/bias");

  const rotary = (t: string, p: string) => {
    const x1 = g.op("Slice", [t, g.i64([0]), g.i64([D / 2]), g.i64([3])], [], `${p}/x1`);
    const x2 = g.op("Slice", [t, g.i64([D / 2]), g.i64([D]), g.i64([3])], [], `${p}/x2`);
    const swapped = g.op("Concat", [x2, x1], [attr.int("axis", 3)], `${p}/swapped`);
    return g.op("Add", [g.op("Mul", [t, cosT], [], `${p}/xcos`), g.op("Mul", [swapped, sinT], [], `${p}/xsin`)], [], `${p}/out`);
  };
  const heads = (t: string, n: number, p: string) =>
    g.op("Transpose", [g.op("Reshape", [t, g.i64([0, 0, n, D])], [], `${p}/split`)], [attr.ints("perm", [0, 2, 1, 3])], `${p}/bhtd`);
  const repeatKv = (t: string, p: string) => {
    if (rep === 1) return t;
    const expanded = g.op("Expand", [g.op("Unsqueeze", [t, g.i64([2])], [], `${p}/unsq`), g.i64([1, 1, rep, 1, 1])], [], `${p}/expand`);
    return g.op("Reshape", [expanded, g.i64([0, nh, -1, D])], [], `${p}/rep`);
  };

  const inputs: ValueInfoProto[] = [
    tensorInfo("input_ids", DataType.INT64, ["batch_size", "sequence_length"]),
    tensorInfo("attention_mask", DataType.INT64, ["batch_size", "total_sequence_length"]),
    tensorInfo("position_ids", DataType.INT64, ["batch_size", "sequence_length"]),
  ];
  const outputs: ValueInfoProto[] = [tensorInfo("logits", DataType.FLOAT, ["batch_size", "sequence_length", config.vocab_size])];

  for (let i = 0; i < config.num_layers; i++) {
    const p = `/layers.${i}`;
    const w = (s: string) => weightInput(`layers.${i}.${s}`);
    const h = rmsnorm(x, w("input_layernorm.weight"), `${p}/input_layernorm`);
    const q = rotary(heads(g.op("MatMul", [h, w("self_attn.q_proj.weight")], [], `${p}/attn/q_proj`), nh, `${p}/attn/q`), `${p}/attn/q_rot`);
    const k = rotary(heads(g.op("MatMul", [h, w("self_attn.k_proj.weight")], [], `${p}/attn/k_proj`), nkv, `${p}/attn/k`), `${p}/attn/k_rot`);
    const v = heads(g.op("MatMul", [h, w("self_attn.v_proj.weight")], [], `${p}/attn/v_proj`), nkv, `${p}/attn/v`);

    const pastK = `past_key_values.${i}.key`;
    const pastV = `past_key_values.${i}.value`;
    inputs.push(tensorInfo(pastK, DataType.FLOAT, ["batch_size", nkv, "past_sequence_length", D]));
    inputs.push(tensorInfo(pastV, DataType.FLOAT, ["batch_size", nkv, "past_sequence_length", D]));
    const presentK = g.op("Concat", [pastK, k], [attr.int("axis", 2)], `present.${i}.key`);
    const presentV = g.op("Concat", [pastV, v], [attr.int("axis", 2)], `present.${i}.value`);
    outputs.push(tensorInfo(presentK, DataType.FLOAT, ["batch_size", nkv, "total_sequence_length", D]));
    outputs.push(tensorInfo(presentV, DataType.FLOAT, ["batch_size", nkv, "total_sequence_length", D]));
    // This call's own keys and values (rotated keys), beside the full present: a caller that keeps
    // the cache in its own buffers (DecoderSession on host runtimes) fetches these T positions
    // instead of the whole cache, which the runtime would otherwise copy out on every step.
    for (const [kind, t] of [["key", k] as const, ["value", v] as const]) {
      const out = g.op("Identity", [t], [], `${NEW_KV_PREFIX}${i}.${kind}`);
      outputs.push(tensorInfo(out, DataType.FLOAT, ["batch_size", nkv, "sequence_length", D]));
    }

    const kT = g.op("Transpose", [repeatKv(presentK, `${p}/attn/k_rep`)], [attr.ints("perm", [0, 1, 3, 2])], `${p}/attn/k_t`);
    const scores = g.op("Mul", [g.op("MatMul", [q, kT], [], `${p}/attn/qk`), g.f32(1 / Math.sqrt(D))], [], `${p}/attn/scaled`);
    const probs = g.op("Softmax", [g.op("Add", [scores, bias], [], `${p}/attn/masked`)], [attr.int("axis", -1)], `${p}/attn/probs`);
    const ctx = g.op("MatMul", [probs, repeatKv(presentV, `${p}/attn/v_rep`)], [], `${p}/attn/ctx`);
    const merged = g.op(
      "Reshape",
      [g.op("Transpose", [ctx], [attr.ints("perm", [0, 2, 1, 3])], `${p}/attn/ctx_bthd`), g.i64([0, 0, nh * D])],
      [],
      `${p}/attn/merged`,
    );
    x = g.op("Add", [x, g.op("MatMul", [merged, w("self_attn.o_proj.weight")], [], `${p}/attn/o_proj`)], [], `${p}/attn/residual`);

    const h2 = rmsnorm(x, w("post_attention_layernorm.weight"), `${p}/post_attention_layernorm`);
    const gate = g.op("MatMul", [h2, w("mlp.gate_proj.weight")], [], `${p}/mlp/gate_proj`);
    const up = g.op("MatMul", [h2, w("mlp.up_proj.weight")], [], `${p}/mlp/up_proj`);
    const silu = g.op("Mul", [gate, g.op("Sigmoid", [gate], [], `${p}/mlp/sigmoid`)], [], `${p}/mlp/silu`);
    const act = g.op("Mul", [silu, up], [], `${p}/mlp/act`);
    x = g.op("Add", [x, g.op("MatMul", [act, w("mlp.down_proj.weight")], [], `${p}/mlp/down_proj`)], [], `${p}/mlp/residual`);
  }

  const final = rmsnorm(x, weightInput("norm.weight"), "/norm");
  const head = config.tie_embeddings ? g.op("Transpose", [embed], [attr.ints("perm", [1, 0])], "/lm_head/tied") : weightInput("lm_head.weight");
  g.op("MatMul", [final, head], [], "logits");

  return {
    irVersion: IR_VERSION,
    producerName: "frontier",
    producerVersion: "decoder-builder",
    opsetImport: [{ domain: "", version: DECODER_OPSET }],
    graph: { name: "decoder", node: g.nodes, initializer: g.initializers, input: inputs, output: outputs },
    metadataProps: [{ key: "frontier.decoder_config", value: JSON.stringify(config) }],
  };
}

export { MASK_NEG, NEW_KV_PREFIX, decoderParamCount, decoderWeightShapes } from "./decoder-config";
