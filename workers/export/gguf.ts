/**
 * GGUF v3 export of a Frontier decoder (docs/decoder.md) for llama.cpp and the tools built on it.
 *
 * Layout of the file (llama.cpp docs/gguf.md): magic "GGUF", version 3, tensor count and metadata
 * count (u64), the metadata key/values, the tensor infos (name, dims fastest first, ggml type,
 * offset into the data section), padding to `general.alignment` (32), then the tensor data, each
 * tensor starting on an aligned offset. All integers are little-endian.
 *
 * Weights:
 *  - f32 / f16: every weight in that type (1-D norm weights stay f32, as llama.cpp's converter keeps
 *    them); 4/8-bit MatMulNBits linears are dequantized exactly into float32 first.
 *  - q4_0 / q8_0: exactly the codes of a symmetric group-32 run (MatMulNBits, 4-bit / 8-bit, no
 *    zero points, block_size 32). ggml's blocks carry the scale as float16: the only change is the
 *    rounding of each float32 scale to float16 (relative error at most 2^-11, refused beyond 1e-3,
 *    e.g. a subnormal scale). Weights the run left in float32 (embedding, head, norms) stay f32.
 *    Anything else (asymmetric zero points, another group size, DequantizeLinear storage, 2/3-bit
 *    codes, fractional HQQ zeros) is refused with the reason.
 *
 * RoPE: Frontier rotates halves (dim j with j + D/2), ggml's llama rope rotates adjacent pairs
 * (2i, 2i+1). q_proj and k_proj output rows are permuted within each head as llama.cpp's HF
 * converter does: GGUF row 2i + j is Frontier row j * D/2 + i (j in {0, 1}).
 *
 * Tokenizer: a BPE tokenizer.json becomes tokenizer.ggml.model "gpt2" with its tokens (byte-level
 * strings as stored), merges and token types (special added tokens CONTROL, padding rows UNUSED).
 */
import { closeSync, existsSync, openSync, readFileSync, renameSync, rmSync } from "node:fs";
import path from "node:path";
import { parseDecoderConfig, type DecoderConfig } from "../onnx/decoder-config";
import { DataType, findInitializer, getAttribute, getInitializer, readModel, writeAll, type ModelProto, type NodeProto } from "../onnx/model-io";

export const GGUF_TYPES = ["f32", "f16", "q8_0", "q4_0"] as const;
export type GgufType = (typeof GGUF_TYPES)[number];

/** ggml_type ids (ggml.h). */
export const GgmlType = { F32: 0, F16: 1, Q4_0: 2, Q8_0: 8 } as const;
/** llama_ftype of general.file_type. */
const FILE_TYPE: Record<GgufType, number> = { f32: 0, f16: 1, q4_0: 2, q8_0: 7 };
const GGML_FOR: Record<GgufType, number> = { f32: GgmlType.F32, f16: GgmlType.F16, q4_0: GgmlType.Q4_0, q8_0: GgmlType.Q8_0 };
/** Block length and bytes per block of each ggml type. */
const BLOCK: Record<number, { n: number; bytes: number }> = {
  [GgmlType.F32]: { n: 1, bytes: 4 },
  [GgmlType.F16]: { n: 1, bytes: 2 },
  [GgmlType.Q4_0]: { n: 32, bytes: 18 },
  [GgmlType.Q8_0]: { n: 32, bytes: 34 },
};
export const GGUF_ALIGNMENT = 32;
const QK = 32;
/** Largest relative change rounding a float32 scale to float16 may make before export refuses. */
export const MAX_SCALE_ROUNDING = 1e-3;

/** gguf_type of metadata values. */
export const GgufValue = {
  UINT8: 0,
  INT8: 1,
  UINT16: 2,
  INT16: 3,
  UINT32: 4,
  INT32: 5,
  FLOAT32: 6,
  BOOL: 7,
  STRING: 8,
  ARRAY: 9,
  UINT64: 10,
  INT64: 11,
  FLOAT64: 12,
} as const;

/** llama.cpp token types. */
const TokenType = { NORMAL: 1, UNKNOWN: 2, CONTROL: 3, USER_DEFINED: 4, UNUSED: 5, BYTE: 6 } as const;

/** The export cannot be exact (or the model is not a Frontier decoder); the message says why. */
export class GgufExportError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "GgufExportError";
  }
}

type MetaValue =
  | { type: "u32"; value: number }
  | { type: "i32"; value: number }
  | { type: "f32"; value: number }
  | { type: "bool"; value: boolean }
  | { type: "string"; value: string }
  | { type: "strings"; value: string[] }
  | { type: "i32s"; value: number[] };

interface TensorPlan {
  name: string;
  /** ggml ne order: fastest dimension first. */
  ne: number[];
  type: number;
  bytes: number;
  data: () => Uint8Array;
}

export interface GgufExportResult {
  file: string;
  type: GgufType;
  bytes: number;
  tensors: number;
  /** Per tensor: its ggml type name. */
  tensorTypes: Record<string, string>;
  notes: string[];
}

const TYPE_NAME: Record<number, string> = { 0: "F32", 1: "F16", 2: "Q4_0", 8: "Q8_0" };

// ---------------------------------------------------------------- float16

const f32buf = new Float32Array(1);
const u32buf = new Uint32Array(f32buf.buffer);

/** IEEE binary16 bits of a float, round to nearest even (ggml's GGML_FP32_TO_FP16 on x86 F16C). */
export function toHalf(value: number): number {
  f32buf[0] = value;
  const x = u32buf[0];
  const sign = (x >>> 16) & 0x8000;
  const exp = (x >>> 23) & 0xff;
  let mant = x & 0x7fffff;
  if (exp === 0xff) return sign | 0x7c00 | (mant ? 0x200 : 0);
  const e = exp - 127 + 15;
  if (e >= 0x1f) return sign | 0x7c00;
  if (e <= 0) {
    if (e < -10) return sign;
    mant |= 0x800000;
    const shift = 14 - e;
    let half = mant >>> shift;
    const rem = mant & ((1 << shift) - 1);
    const mid = 1 << (shift - 1);
    if (rem > mid || (rem === mid && half & 1)) half++;
    return sign | half;
  }
  let half = (e << 10) | (mant >>> 13);
  const rem = mant & 0x1fff;
  // a carry out of the mantissa correctly bumps the exponent (up to infinity)
  if (rem > 0x1000 || (rem === 0x1000 && half & 1)) half++;
  return sign | half;
}

export function fromHalf(h: number): number {
  const sign = h & 0x8000 ? -1 : 1;
  const exp = (h >>> 10) & 0x1f;
  const mant = h & 0x3ff;
  if (exp === 0) return sign * mant * 2 ** -24;
  if (exp === 0x1f) return mant ? Number.NaN : sign * Number.POSITIVE_INFINITY;
  return sign * (1 + mant / 1024) * 2 ** (exp - 15);
}

// ---------------------------------------------------------------- weights of the graph

/** A linear weight as the ONNX graph stores it. */
type Linear =
  | { kind: "float"; rows: () => Float32Array; n: number; k: number }
  | {
      kind: "nbits";
      bits: 4 | 8;
      n: number;
      k: number;
      blocks: number;
      blockSize: number;
      b: Uint8Array;
      scales: Float32Array;
      /** MatMulNBits zero points: packed uint8 per row (4-bit: two a byte), uint8, or float; null = symmetric. */
      zeros: Uint8Array | Float32Array | null;
    };

const GRAPH_OPS = new Set([
  "Mul",
  "ReduceMean",
  "Add",
  "Sqrt",
  "Div",
  "Gather",
  "Unsqueeze",
  "Shape",
  "Squeeze",
  "Sub",
  "Range",
  "LessOrEqual",
  "Cast",
  "Slice",
  "Concat",
  "Transpose",
  "Reshape",
  "Expand",
  "MatMul",
  "Softmax",
  "Sigmoid",
  "MatMulNBits",
  // the new_key_values.* outputs (a call's own keys and values), which carry no weights
  "Identity",
]);

class GraphWeights {
  readonly used = new Set<string>();
  private readonly nbitsByWeight = new Map<string, NodeProto>();

  constructor(
    readonly model: ModelProto,
    readonly config: DecoderConfig,
  ) {
    for (const node of model.graph?.node ?? []) {
      const op = node.opType ?? "";
      if (!GRAPH_OPS.has(op)) {
        throw new GgufExportError(
          `node ${node.name} is a ${node.domain ? `${node.domain}.` : ""}${op}: the graph is not the plain decoder GGUF maps (DequantizeLinear storage, activation quantization or another rewrite)`,
        );
      }
      if (op === "MatMulNBits") this.nbitsByWeight.set(node.input?.[1] ?? "", node);
    }
  }

  private floatInit(name: string): Float32Array {
    const init = getInitializer(this.model, name);
    if (init.dataType !== DataType.FLOAT) throw new GgufExportError(`${name} has data type ${init.dataType}: only float32 weights are exported`);
    this.used.add(name);
    return init.data as Float32Array;
  }

  /** A 1-D weight (norm) or the [V, H] embedding table, as stored. */
  plain(name: string, count: number): Float32Array {
    if (!findInitializer(this.model, name)) throw new GgufExportError(`the graph has no weight ${name}`);
    const data = this.floatInit(name);
    if (data.length !== count) throw new GgufExportError(`${name} has ${data.length} values, expected ${count}`);
    return data;
  }

  /** A linear weight named by docs/decoder.md ([in, out] = [k, n]), float or MatMulNBits. */
  linear(name: string, k: number, n: number): Linear {
    const init = findInitializer(this.model, name);
    if (init) {
      const dims = (init.dims ?? []).map(Number);
      if (dims.length !== 2 || dims[0] !== k || dims[1] !== n) throw new GgufExportError(`${name} is [${dims.join(", ")}], expected [${k}, ${n}]`);
      if (init.dataType !== DataType.FLOAT) throw new GgufExportError(`${name} has data type ${init.dataType}: only float32 weights are exported`);
      this.used.add(name);
      // read when written, so a large model is never in memory whole
      const rows = () => {
        const data = this.floatInit(name);
        const out = new Float32Array(k * n);
        for (let i = 0; i < k; i++) for (let j = 0; j < n; j++) out[j * k + i] = data[i * n + j];
        return out;
      };
      return { kind: "float", rows, n, k };
    }
    const node = this.nbitsByWeight.get(`${name}.qweight`);
    if (!node) {
      if (findInitializer(this.model, `${name}.qweight`)) {
        throw new GgufExportError(`${name} is stored for DequantizeLinear (format "qdq"); GGUF export reads MatMulNBits (format "matmulnbits") runs`);
      }
      throw new GgufExportError(`the graph has no weight ${name} (neither float32 nor MatMulNBits)`);
    }
    const int = (a: string) => Number(getAttribute(node, a)?.i ?? Number.NaN);
    const bits = int("bits");
    const blockSize = int("block_size");
    if (int("K") !== k || int("N") !== n) throw new GgufExportError(`${name}: MatMulNBits is ${int("K")}x${int("N")}, expected ${k}x${n}`);
    if (bits !== 4 && bits !== 8) throw new GgufExportError(`${name}: ${bits}-bit MatMulNBits is not read here`);
    const [, , , zp, ...rest] = node.input ?? [];
    if (rest.some((s) => s !== "")) throw new GgufExportError(`${name}: MatMulNBits with g_idx or bias inputs is not read here`);
    const b = getInitializer(this.model, `${name}.qweight`).data as Uint8Array;
    const scales = this.floatInit(`${name}.scales`);
    this.used.add(`${name}.qweight`);
    let zeros: Uint8Array | Float32Array | null = null;
    if (zp) {
      zeros = getInitializer(this.model, zp).data as Uint8Array | Float32Array;
      this.used.add(zp);
    }
    const blocks = Math.ceil(k / blockSize);
    if (scales.length !== n * blocks || b.length !== (n * blocks * blockSize * bits) / 8)
      throw new GgufExportError(`${name}: MatMulNBits tensors do not match K, N, block_size`);
    return { kind: "nbits", bits, n, k, blocks, blockSize, b, scales, zeros };
  }

  unusedWeights(): string[] {
    return (this.model.graph?.initializer ?? [])
      .map((t) => t.name ?? "")
      .filter((n) => !this.used.has(n) && !n.startsWith("const.") && n !== "rotary.cos" && n !== "rotary.sin");
  }
}

/** Ŵ[n, k] = (q - zero) * scale of MatMulNBits storage (zero 2^(bits-1) without zero points). */
function dequantizeNBits(w: Extract<Linear, { kind: "nbits" }>): Float32Array {
  const { b, scales, bits, n, k, blockSize, blocks, zeros } = w;
  const rowBytes = (blocks * blockSize * bits) / 8;
  const zpRow = Math.ceil((blocks * bits) / 8);
  const zero = (r: number, j: number): number => {
    if (!zeros) return bits === 4 ? 8 : 128;
    if (zeros instanceof Float32Array) return zeros[r * blocks + j];
    if (bits === 8) return zeros[r * blocks + j];
    return (zeros[r * zpRow + (j >> 1)] >> ((j & 1) * 4)) & 0x0f;
  };
  const out = new Float32Array(n * k);
  for (let r = 0; r < n; r++) {
    for (let c = 0; c < k; c++) {
      const j = Math.floor(c / blockSize);
      const q = bits === 8 ? b[r * rowBytes + c] : (b[r * rowBytes + (c >> 1)] >> ((c & 1) * 4)) & 0x0f;
      out[r * k + c] = Math.fround((q - zero(r, j)) * scales[r * blocks + j]);
    }
  }
  return out;
}

// ---------------------------------------------------------------- tensor encodings

function encodeF32(rows: Float32Array): Uint8Array {
  return new Uint8Array(rows.buffer, rows.byteOffset, rows.byteLength);
}

function encodeF16(rows: Float32Array): Uint8Array {
  const out = new Uint16Array(rows.length);
  for (let i = 0; i < rows.length; i++) out[i] = toHalf(rows[i]);
  return new Uint8Array(out.buffer);
}

function halfScale(name: string, s: number): number {
  const h = toHalf(s);
  const back = fromHalf(h);
  const rel = s === 0 ? (back === 0 ? 0 : 1) : Math.abs(back - s) / Math.abs(s);
  if (!(rel <= MAX_SCALE_ROUNDING)) {
    throw new GgufExportError(
      `${name}: scale ${s} becomes ${back} in float16 (relative change ${rel.toExponential(2)} > ${MAX_SCALE_ROUNDING}); export f32/f16`,
    );
  }
  return h;
}

/**
 * ggml block_q4_0 { half d; uint8 qs[16] }: qs[j] holds element j in its low nibble and element
 * j + 16 in its high nibble; value = (nibble - 8) * d. MatMulNBits stores element c of a row at
 * nibble c (low first) with the same implicit zero 8.
 */
function encodeQ4_0(name: string, w: Extract<Linear, { kind: "nbits" }>): Uint8Array {
  const out = new Uint8Array(w.n * w.blocks * 18);
  const view = new DataView(out.buffer);
  const rowBytes = w.blocks * 16;
  for (let r = 0; r < w.n; r++) {
    for (let j = 0; j < w.blocks; j++) {
      const dst = (r * w.blocks + j) * 18;
      view.setUint16(dst, halfScale(name, w.scales[r * w.blocks + j]), true);
      const src = r * rowBytes + j * 16;
      const code = (c: number) => (w.b[src + (c >> 1)] >> ((c & 1) * 4)) & 0x0f;
      for (let i = 0; i < 16; i++) out[dst + 2 + i] = code(i) | (code(i + 16) << 4);
    }
  }
  return out;
}

/** ggml block_q8_0 { half d; int8 qs[32] }: value = q * d; MatMulNBits' 8-bit codes are q + 128. */
function encodeQ8_0(name: string, w: Extract<Linear, { kind: "nbits" }>): Uint8Array {
  const out = new Uint8Array(w.n * w.blocks * 34);
  const view = new DataView(out.buffer);
  for (let r = 0; r < w.n; r++) {
    for (let j = 0; j < w.blocks; j++) {
      const dst = (r * w.blocks + j) * 34;
      view.setUint16(dst, halfScale(name, w.scales[r * w.blocks + j]), true);
      const src = (r * w.blocks + j) * 32;
      for (let i = 0; i < 32; i++) out[dst + 2 + i] = (w.b[src + i] - 128) & 0xff;
    }
  }
  return out;
}

/** Reorders whole rows: GGUF row 2i + j of each head is the source row j * D/2 + i. */
function permuteRopeRows(data: Uint8Array, rowBytes: number, heads: number, headDim: number): Uint8Array {
  const out = new Uint8Array(data.length);
  const half = headDim / 2;
  for (let h = 0; h < heads; h++) {
    for (let i = 0; i < half; i++) {
      for (let j = 0; j < 2; j++) {
        const src = (h * headDim + j * half + i) * rowBytes;
        const dst = (h * headDim + 2 * i + j) * rowBytes;
        out.set(data.subarray(src, src + rowBytes), dst);
      }
    }
  }
  return out;
}

// ---------------------------------------------------------------- tokenizer

interface TokenizerMeta {
  tokens: string[];
  types: number[];
  merges: string[];
  eos: number | null;
  pad: number | null;
  notes: string[];
}

function tokenizerMeta(file: string, vocabSize: number): TokenizerMeta {
  if (!existsSync(file)) throw new GgufExportError(`tokenizer.json not found beside the model: GGUF carries the vocabulary`);
  const tok = JSON.parse(readFileSync(file, "utf8")) as {
    model?: { type?: string; vocab?: Record<string, number>; merges?: (string | string[])[] };
    added_tokens?: { id: number; content: string; special?: boolean }[];
  };
  if (tok.model?.type !== "BPE" || !tok.model.vocab) {
    throw new GgufExportError(`tokenizer model ${tok.model?.type ?? "(none)"}: GGUF export writes BPE vocabularies (tokenizer.ggml.model "gpt2")`);
  }
  const tokens: (string | undefined)[] = new Array(vocabSize);
  const types = new Array<number>(vocabSize).fill(TokenType.NORMAL);
  for (const [t, id] of Object.entries(tok.model.vocab)) {
    if (id >= vocabSize) throw new GgufExportError(`token ${JSON.stringify(t)} has id ${id}, outside the model's vocab_size ${vocabSize}`);
    tokens[id] = t;
  }
  let eos: number | null = null;
  let pad: number | null = null;
  for (const a of tok.added_tokens ?? []) {
    if (a.id >= vocabSize) continue;
    tokens[a.id] = a.content;
    if (a.special) types[a.id] = TokenType.CONTROL;
    if (a.special && eos === null && /endoftext|<\/s>|eos/i.test(a.content)) eos = a.id;
    if (a.special && pad === null && /pad/i.test(a.content)) pad = a.id;
  }
  let padded = 0;
  // Array.from, not map: map skips the holes of the sparse array
  const out = Array.from(tokens, (t, i) => {
    if (t !== undefined) return t;
    padded++;
    types[i] = TokenType.UNUSED;
    return `[PAD${i}]`;
  });
  const merges = (tok.model.merges ?? []).map((m) => (Array.isArray(m) ? m.join(" ") : m));
  const notes = padded ? [`${padded} vocabulary rows without a token written as [PADn] (UNUSED)`] : [];
  return { tokens: out, types, merges, eos, pad, notes };
}

// ---------------------------------------------------------------- writer

class ByteWriter {
  private chunks: Uint8Array[] = [];
  length = 0;
  private push(b: Uint8Array) {
    this.chunks.push(b);
    this.length += b.length;
  }
  u32(v: number) {
    const b = new Uint8Array(4);
    new DataView(b.buffer).setUint32(0, v, true);
    this.push(b);
  }
  i32(v: number) {
    const b = new Uint8Array(4);
    new DataView(b.buffer).setInt32(0, v, true);
    this.push(b);
  }
  u64(v: number) {
    const b = new Uint8Array(8);
    new DataView(b.buffer).setBigUint64(0, BigInt(v), true);
    this.push(b);
  }
  f32(v: number) {
    const b = new Uint8Array(4);
    new DataView(b.buffer).setFloat32(0, v, true);
    this.push(b);
  }
  str(s: string) {
    const b = Buffer.from(s, "utf8");
    this.u64(b.length);
    this.push(new Uint8Array(b.buffer, b.byteOffset, b.byteLength));
  }
  bytes(b: Uint8Array) {
    this.push(b);
  }
  concat(): Uint8Array {
    return Buffer.concat(this.chunks);
  }
}

function writeValue(w: ByteWriter, v: MetaValue) {
  switch (v.type) {
    case "u32":
      w.u32(GgufValue.UINT32);
      w.u32(v.value);
      break;
    case "i32":
      w.u32(GgufValue.INT32);
      w.i32(v.value);
      break;
    case "f32":
      w.u32(GgufValue.FLOAT32);
      w.f32(v.value);
      break;
    case "bool":
      w.u32(GgufValue.BOOL);
      w.bytes(Uint8Array.of(v.value ? 1 : 0));
      break;
    case "string":
      w.u32(GgufValue.STRING);
      w.str(v.value);
      break;
    case "strings":
      w.u32(GgufValue.ARRAY);
      w.u32(GgufValue.STRING);
      w.u64(v.value.length);
      for (const s of v.value) w.str(s);
      break;
    case "i32s":
      w.u32(GgufValue.ARRAY);
      w.u32(GgufValue.INT32);
      w.u64(v.value.length);
      for (const x of v.value) w.i32(x);
      break;
  }
}

const alignUp = (x: number) => Math.ceil(x / GGUF_ALIGNMENT) * GGUF_ALIGNMENT;

export function tensorBytes(type: number, ne: number[]): number {
  const blk = BLOCK[type];
  if (ne[0] % blk.n !== 0) throw new GgufExportError(`a ${TYPE_NAME[type]} tensor needs its row length ${ne[0]} to be a multiple of ${blk.n}`);
  return (ne.reduce((p, d) => p * d, 1) / blk.n) * blk.bytes;
}

// ---------------------------------------------------------------- export

export interface GgufExportOptions {
  /** general.name (default: the model directory's name). */
  name?: string;
}

function loadConfig(model: ModelProto, modelFile: string): DecoderConfig {
  const meta = model.metadataProps?.find((p) => p.key === "frontier.decoder_config")?.value;
  const beside = path.join(path.dirname(modelFile), "config.json");
  const raw = meta ?? (existsSync(beside) ? readFileSync(beside, "utf8") : null);
  if (!raw)
    throw new GgufExportError("no decoder config (model metadata frontier.decoder_config or config.json): GGUF export needs the docs/decoder.md architecture");
  try {
    return parseDecoderConfig(JSON.parse(raw));
  } catch (e) {
    throw new GgufExportError(`not a Frontier decoder: ${(e as Error).message}`);
  }
}

/**
 * Plans a GGUF export without writing anything: throws GgufExportError when `type` cannot be
 * exported exactly (the message names the weight and the reason).
 */
export function planGguf(modelFile: string, type: GgufType, options: GgufExportOptions = {}) {
  if (!GGUF_TYPES.includes(type)) throw new GgufExportError(`unknown GGUF type "${type}"; one of ${GGUF_TYPES.join(", ")}`);
  if (!existsSync(modelFile)) throw new GgufExportError(`model file not found: ${path.basename(modelFile)}`);
  const model = readModel(modelFile, { loadExternalData: false });
  const config = loadConfig(model, modelFile);
  const weights = new GraphWeights(model, config);
  const H = config.hidden_size;
  const D = H / config.num_heads;
  const kvDim = config.num_kv_heads * D;
  const I = config.intermediate_size;
  const V = config.vocab_size;
  const notes: string[] = [];
  const tensors: TensorPlan[] = [];
  const quantized = type === "q4_0" || type === "q8_0";
  const wantBits = type === "q4_0" ? 4 : 8;
  let quantCount = 0;

  const floatTensor = (name: string, ne: number[], get: () => Float32Array, allowHalf: boolean) => {
    const t = type === "f16" && allowHalf ? GgmlType.F16 : GgmlType.F32;
    tensors.push({ name, ne, type: t, bytes: tensorBytes(t, ne), data: () => (t === GgmlType.F16 ? encodeF16(get()) : encodeF32(get())) });
  };

  const linearTensor = (gguf: string, onnx: string, k: number, n: number, rope: number | null) => {
    // Read now to validate (shapes, zero points, bit width, scales); bytes are produced when written.
    const w = weights.linear(onnx, k, n);
    const ne = [k, n];
    let ggml: number;
    let bytes: () => Uint8Array;
    if (w.kind === "nbits" && quantized) {
      if (w.zeros) {
        throw new GgufExportError(
          `${onnx} has zero points (asymmetric quantization): ggml's ${type.toUpperCase()} blocks are symmetric with no zero point; export f32/f16 or quantize with symmetric: true`,
        );
      }
      if (w.blockSize !== QK) {
        throw new GgufExportError(
          `${onnx} is quantized with group ${w.blockSize}: ggml's ${type.toUpperCase()} blocks are 32 weights; export f32/f16 or quantize with group_size 32`,
        );
      }
      if (w.bits !== wantBits)
        throw new GgufExportError(`${onnx} is ${w.bits}-bit: ${type.toUpperCase()} stores ${wantBits}-bit codes; export q${w.bits}_0, f32 or f16`);
      if (k % QK !== 0) throw new GgufExportError(`${onnx}: K=${k} is not a multiple of 32, ggml's block length`);
      for (let i = 0; i < w.scales.length; i++) halfScale(onnx, w.scales[i]);
      ggml = GGML_FOR[type];
      quantCount++;
      bytes = () => (type === "q4_0" ? encodeQ4_0(onnx, w) : encodeQ8_0(onnx, w));
    } else {
      // float32 weights (in a quantized export: those the run kept, e.g. the output head) and
      // dequantized codes for f32/f16
      ggml = type === "f16" ? GgmlType.F16 : GgmlType.F32;
      const rows = () => (w.kind === "nbits" ? dequantizeNBits(w) : w.rows());
      bytes = () => (ggml === GgmlType.F16 ? encodeF16(rows()) : encodeF32(rows()));
    }
    const rowBytes = tensorBytes(ggml, [k]);
    const data = rope === null ? bytes : () => permuteRopeRows(bytes(), rowBytes, rope, D);
    tensors.push({ name: gguf, ne, type: ggml, bytes: tensorBytes(ggml, ne), data });
  };

  floatTensor("token_embd.weight", [H, V], () => weights.plain("embed_tokens.weight", V * H), true);
  for (let l = 0; l < config.num_layers; l++) {
    const p = `layers.${l}`;
    floatTensor(`blk.${l}.attn_norm.weight`, [H], () => weights.plain(`${p}.input_layernorm.weight`, H), false);
    linearTensor(`blk.${l}.attn_q.weight`, `${p}.self_attn.q_proj.weight`, H, H, config.num_heads);
    linearTensor(`blk.${l}.attn_k.weight`, `${p}.self_attn.k_proj.weight`, H, kvDim, config.num_kv_heads);
    linearTensor(`blk.${l}.attn_v.weight`, `${p}.self_attn.v_proj.weight`, H, kvDim, null);
    linearTensor(`blk.${l}.attn_output.weight`, `${p}.self_attn.o_proj.weight`, H, H, null);
    floatTensor(`blk.${l}.ffn_norm.weight`, [H], () => weights.plain(`${p}.post_attention_layernorm.weight`, H), false);
    linearTensor(`blk.${l}.ffn_gate.weight`, `${p}.mlp.gate_proj.weight`, H, I, null);
    linearTensor(`blk.${l}.ffn_up.weight`, `${p}.mlp.up_proj.weight`, H, I, null);
    linearTensor(`blk.${l}.ffn_down.weight`, `${p}.mlp.down_proj.weight`, I, H, null);
  }
  floatTensor("output_norm.weight", [H], () => weights.plain("norm.weight", H), false);
  if (!config.tie_embeddings) {
    linearTensor("output.weight", "lm_head.weight", H, V, null);
  } else if (findInitializer(model, "embed_tokens.weight.tied_head.qweight")) {
    linearTensor("output.weight", "embed_tokens.weight.tied_head", H, V, null);
  } else {
    notes.push("tied embeddings: no output.weight, llama.cpp reuses token_embd");
  }
  // embedding table was only planned lazily: mark it read for the accounting below
  weights.used.add("embed_tokens.weight");
  for (const n of ["input_layernorm", "post_attention_layernorm"]) for (let l = 0; l < config.num_layers; l++) weights.used.add(`layers.${l}.${n}.weight`);
  weights.used.add("norm.weight");
  const unused = weights.unusedWeights();
  if (unused.length) {
    throw new GgufExportError(
      `the graph holds weights GGUF would drop: ${unused.slice(0, 5).join(", ")}${unused.length > 5 ? ` and ${unused.length - 5} more` : ""}`,
    );
  }
  if (quantized && quantCount === 0) {
    throw new GgufExportError(
      `the weights are float32: ${type.toUpperCase()} is written only from a symmetric ${wantBits}-bit group-32 run (quant.rtn or quant.gptq with bits ${wantBits}, group_size 32, symmetric: true); export f32 or f16`,
    );
  }
  if (quantized) notes.push(`${quantCount} linear weights as ${type.toUpperCase()} (codes as stored, float32 scales rounded to float16)`);

  const tokenizer = tokenizerMeta(path.join(path.dirname(modelFile), "tokenizer.json"), V);
  notes.push(...tokenizer.notes);
  const eos = tokenizer.eos ?? 0;
  const meta: [string, MetaValue][] = [
    ["general.architecture", { type: "string", value: "llama" }],
    ["general.name", { type: "string", value: options.name ?? path.basename(path.dirname(path.resolve(modelFile))) }],
    ["general.file_type", { type: "u32", value: FILE_TYPE[type] }],
    ["general.quantization_version", { type: "u32", value: 2 }],
    ["general.alignment", { type: "u32", value: GGUF_ALIGNMENT }],
    ["llama.vocab_size", { type: "u32", value: V }],
    ["llama.context_length", { type: "u32", value: config.max_position }],
    ["llama.embedding_length", { type: "u32", value: H }],
    ["llama.block_count", { type: "u32", value: config.num_layers }],
    ["llama.feed_forward_length", { type: "u32", value: I }],
    ["llama.rope.dimension_count", { type: "u32", value: D }],
    ["llama.attention.head_count", { type: "u32", value: config.num_heads }],
    ["llama.attention.head_count_kv", { type: "u32", value: config.num_kv_heads }],
    ["llama.attention.layer_norm_rms_epsilon", { type: "f32", value: config.rms_eps }],
    ["llama.rope.freq_base", { type: "f32", value: config.rope_theta }],
    ["tokenizer.ggml.model", { type: "string", value: "gpt2" }],
    ["tokenizer.ggml.pre", { type: "string", value: "default" }],
    ["tokenizer.ggml.tokens", { type: "strings", value: tokenizer.tokens }],
    ["tokenizer.ggml.token_type", { type: "i32s", value: tokenizer.types }],
    ["tokenizer.ggml.merges", { type: "strings", value: tokenizer.merges }],
    ["tokenizer.ggml.bos_token_id", { type: "u32", value: eos }],
    ["tokenizer.ggml.eos_token_id", { type: "u32", value: eos }],
    ["tokenizer.ggml.add_bos_token", { type: "bool", value: false }],
  ];
  if (tokenizer.pad !== null) meta.push(["tokenizer.ggml.padding_token_id", { type: "u32", value: tokenizer.pad }]);
  return { config, tensors, meta, notes };
}

/** Writes `outFile` (via a temporary file, renamed when complete). */
export function exportGguf(modelFile: string, outFile: string, type: GgufType, options: GgufExportOptions = {}): GgufExportResult {
  const { tensors, meta, notes } = planGguf(modelFile, type, options);
  const head = new ByteWriter();
  head.u32(0x46554747); // "GGUF"
  head.u32(3);
  head.u64(tensors.length);
  head.u64(meta.length);
  for (const [key, value] of meta) {
    head.str(key);
    writeValue(head, value);
  }
  let offset = 0;
  const offsets: number[] = [];
  for (const t of tensors) {
    head.str(t.name);
    head.u32(t.ne.length);
    for (const d of t.ne) head.u64(d);
    head.u32(t.type);
    head.u64(offset);
    offsets.push(offset);
    offset = alignUp(offset + t.bytes);
  }
  const header = head.concat();
  const dataStart = alignUp(header.length);
  const tmp = `${outFile}.tmp-${process.pid}`;
  const fd = openSync(tmp, "w");
  try {
    writeAll(fd, header, 0);
    tensors.forEach((t, i) => {
      const data = t.data();
      if (data.length !== t.bytes) throw new Error(`internal: ${t.name} encoded to ${data.length} bytes, planned ${t.bytes}`);
      writeAll(fd, data, dataStart + offsets[i]);
    });
    // the last tensor's padding, so the file length is the aligned data size
    const end = dataStart + offset;
    const last = tensors.length ? dataStart + offsets[offsets.length - 1] + tensors[tensors.length - 1].bytes : dataStart;
    if (end > last) writeAll(fd, new Uint8Array(end - last), last);
    closeSync(fd);
    renameSync(tmp, outFile);
    return {
      file: outFile,
      type,
      bytes: end,
      tensors: tensors.length,
      tensorTypes: Object.fromEntries(tensors.map((t) => [t.name, TYPE_NAME[t.type]])),
      notes,
    };
  } catch (e) {
    try {
      closeSync(fd);
    } catch {
      // already closed
    }
    rmSync(tmp, { force: true });
    throw e;
  }
}

// ---------------------------------------------------------------- reader

export interface GgufTensorInfo {
  name: string;
  ne: number[];
  type: number;
  offset: number;
}

export interface GgufFile {
  version: number;
  metadata: Map<string, unknown>;
  tensors: GgufTensorInfo[];
  /** Absolute file offset of the data section. */
  dataStart: number;
}

/** Parses a GGUF header (metadata and tensor infos); tensor data is read from `dataStart`. */
export function readGgufHeader(bytes: Uint8Array): GgufFile {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  let p = 0;
  const u32 = () => {
    const v = view.getUint32(p, true);
    p += 4;
    return v;
  };
  const u64 = () => {
    const v = Number(view.getBigUint64(p, true));
    p += 8;
    return v;
  };
  const str = () => {
    const n = u64();
    const s = Buffer.from(bytes.buffer, bytes.byteOffset + p, n).toString("utf8");
    p += n;
    return s;
  };
  const scalar = (t: number): unknown => {
    switch (t) {
      case GgufValue.UINT8:
        return view.getUint8(p++);
      case GgufValue.INT8:
        return view.getInt8(p++);
      case GgufValue.BOOL:
        return view.getUint8(p++) !== 0;
      case GgufValue.UINT16:
        p += 2;
        return view.getUint16(p - 2, true);
      case GgufValue.INT16:
        p += 2;
        return view.getInt16(p - 2, true);
      case GgufValue.UINT32:
        return u32();
      case GgufValue.INT32:
        p += 4;
        return view.getInt32(p - 4, true);
      case GgufValue.FLOAT32:
        p += 4;
        return view.getFloat32(p - 4, true);
      case GgufValue.UINT64:
        return u64();
      case GgufValue.INT64:
        p += 8;
        return Number(view.getBigInt64(p - 8, true));
      case GgufValue.FLOAT64:
        p += 8;
        return view.getFloat64(p - 8, true);
      case GgufValue.STRING:
        return str();
      case GgufValue.ARRAY: {
        const et = u32();
        const n = u64();
        return Array.from({ length: n }, () => scalar(et));
      }
      default:
        throw new Error(`unknown GGUF value type ${t} at byte ${p}`);
    }
  };
  if (u32() !== 0x46554747) throw new Error("not a GGUF file (bad magic)");
  const version = u32();
  const nTensors = u64();
  const nMeta = u64();
  const metadata = new Map<string, unknown>();
  for (let i = 0; i < nMeta; i++) {
    const key = str();
    metadata.set(key, scalar(u32()));
  }
  const tensors: GgufTensorInfo[] = [];
  for (let i = 0; i < nTensors; i++) {
    const name = str();
    const nd = u32();
    const ne = Array.from({ length: nd }, () => u64());
    tensors.push({ name, ne, type: u32(), offset: u64() });
  }
  const align = (metadata.get("general.alignment") as number | undefined) ?? GGUF_ALIGNMENT;
  return { version, metadata, tensors, dataStart: Math.ceil(p / align) * align };
}

/** Dequantizes one tensor's bytes to float32 (row-major, ne[0] fastest). */
export function dequantizeGgml(type: number, data: Uint8Array, count: number): Float32Array {
  const view = new DataView(data.buffer, data.byteOffset, data.byteLength);
  const out = new Float32Array(count);
  if (type === GgmlType.F32) return new Float32Array(data.buffer.slice(data.byteOffset, data.byteOffset + count * 4));
  if (type === GgmlType.F16) {
    for (let i = 0; i < count; i++) out[i] = fromHalf(view.getUint16(2 * i, true));
    return out;
  }
  if (type === GgmlType.Q4_0) {
    for (let b = 0; b < count / QK; b++) {
      const d = fromHalf(view.getUint16(b * 18, true));
      for (let i = 0; i < 16; i++) {
        const q = data[b * 18 + 2 + i];
        out[b * QK + i] = ((q & 0x0f) - 8) * d;
        out[b * QK + i + 16] = ((q >> 4) - 8) * d;
      }
    }
    return out;
  }
  if (type === GgmlType.Q8_0) {
    for (let b = 0; b < count / QK; b++) {
      const d = fromHalf(view.getUint16(b * 34, true));
      for (let i = 0; i < QK; i++) out[b * QK + i] = view.getInt8(b * 34 + 2 + i) * d;
    }
    return out;
  }
  throw new Error(`ggml type ${type} is not read here`);
}
