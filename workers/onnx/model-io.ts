import { closeSync, openSync, readFileSync, readSync, renameSync, rmSync, statSync, writeFileSync, writeSync } from "node:fs";
import path from "node:path";
import {
  AttributeType,
  DataLocation,
  DataType,
  decodeModel,
  encodeModel,
  type AttributeProto,
  type ModelProto,
  type NodeProto,
  type OperatorSetIdProto,
  type TensorProto,
} from "./proto";

export * from "./proto";

/** Protobuf refuses messages of 2 GiB and more; stay clear of it with room for the graph itself. */
const INLINE_LIMIT_BYTES = 1.5 * 2 ** 30;
/** ONNX asks for page-aligned external offsets so runtimes can mmap each tensor. */
const EXTERNAL_ALIGN = 4096;
/** fs.read/write move at most 2 GiB - 1 per call. */
const IO_CHUNK = 2 ** 30;

export type TensorData = Float32Array | Float64Array | Int32Array | BigInt64Array | Int8Array | Uint8Array | Int16Array | Uint16Array;

export interface Initializer {
  name: string;
  dims: number[];
  dataType: number;
  data: TensorData;
}

/** Directory that a model's still-external tensors are relative to (models read lazily). */
const externalBase = new WeakMap<ModelProto, string>();

// ---------------------------------------------------------------- read / write

export interface ReadOptions {
  /** false: leave external tensors on disk; getInitializer and writeModel load them on demand. */
  loadExternalData?: boolean;
}

/** Reads a model and, by default, pulls every external tensor next to it into memory. */
export function readModel(file: string, opts: ReadOptions = {}): ModelProto {
  const model = decodeModel(readFileSync(file));
  const dir = path.dirname(path.resolve(file));
  externalBase.set(model, dir);
  if (opts.loadExternalData !== false) {
    for (const t of model.graph?.initializer ?? []) {
      if (isExternal(t)) inlineExternal(t, dir);
    }
  }
  return model;
}

export interface WriteOptions {
  /**
   * Initializers of at least this many bytes go to the external data file. Default: none while the
   * whole model fits in one protobuf (1.5 GiB), otherwise every initializer of 1 KiB or more.
   */
  externalDataThreshold?: number;
  /** External data file name, relative to the model file. Default `<model file name>.data`. */
  externalDataName?: string;
}

/**
 * Writes a model, moving large initializers to one external data file beside it. Both files are
 * written under temporary names and renamed into place, so a reader never sees half a model and a
 * model read lazily from the same path can be written back over itself.
 */
export function writeModel(model: ModelProto, file: string, opts: WriteOptions = {}): { modelBytes: number; dataBytes: number } {
  const graph = model.graph ?? {};
  const initializers = graph.initializer ?? [];
  const total = initializers.reduce((s, t) => s + tensorByteLength(t), 0);
  const threshold = opts.externalDataThreshold ?? (total > INLINE_LIMIT_BYTES ? 1024 : Infinity);
  const dataName = opts.externalDataName ?? `${path.basename(file)}.data`;
  const dir = path.dirname(path.resolve(file));
  const dataFile = path.join(dir, dataName);
  const suffix = `.tmp-${process.pid}-${Date.now()}`;
  const base = externalBase.get(model);

  let dataFd: number | null = null;
  let offset = 0;
  let inlineBytes = 0;
  const written: TensorProto[] = [];
  try {
    for (const t of initializers) {
      const bytes = tensorByteLength(t);
      if (bytes < threshold || bytes === 0) {
        const resolved = isExternal(t) ? withInlineData(t, readExternal(t, requireBase(base, t))) : t;
        inlineBytes += bytes;
        written.push(resolved);
        continue;
      }
      if (dataFd === null) dataFd = openSync(dataFile + suffix, "w");
      const start = Math.ceil(offset / EXTERNAL_ALIGN) * EXTERNAL_ALIGN;
      const data = isExternal(t) ? readExternal(t, requireBase(base, t)) : rawBytes(t);
      writeAll(dataFd, data, start);
      offset = start + data.byteLength;
      const { rawData: _r, floatData: _f, int32Data: _i, int64Data: _l, doubleData: _d, uint64Data: _u, ...meta } = t;
      written.push({
        ...meta,
        dataLocation: DataLocation.EXTERNAL,
        externalData: [
          { key: "location", value: dataName },
          { key: "offset", value: String(start) },
          { key: "length", value: String(data.byteLength) },
        ],
      });
    }
    if (inlineBytes > INLINE_LIMIT_BYTES) {
      throw new Error(`${inlineBytes} bytes of initializers would be inline, over the protobuf 2 GiB limit: lower externalDataThreshold`);
    }
    const bytes = encodeModel({ ...model, graph: { ...graph, initializer: written } });
    writeFileSync(file + suffix, bytes);
    if (dataFd !== null) {
      closeSync(dataFd);
      dataFd = null;
      renameSync(dataFile + suffix, dataFile);
    }
    renameSync(file + suffix, file);
    return { modelBytes: bytes.byteLength, dataBytes: offset };
  } catch (e) {
    if (dataFd !== null) closeSync(dataFd);
    rmSync(dataFile + suffix, { force: true });
    rmSync(file + suffix, { force: true });
    throw e;
  }
}

/** Bytes on disk of a model file plus every external data file it references. */
export function modelBytes(file: string): number {
  const model = decodeModel(readFileSync(file));
  const dir = path.dirname(path.resolve(file));
  const locations = new Set<string>();
  for (const t of model.graph?.initializer ?? []) {
    if (isExternal(t)) locations.add(externalInfo(t).location);
  }
  let bytes = statSync(file).size;
  for (const loc of locations) bytes += statSync(path.join(dir, loc)).size;
  return bytes;
}

/** Bytes of tensor data held by the graph's initializers, inline or external. */
export function initializerBytes(model: ModelProto): number {
  return (model.graph?.initializer ?? []).reduce((s, t) => s + tensorByteLength(t), 0);
}

// ---------------------------------------------------------------- initializers

export function findInitializer(model: ModelProto, name: string): TensorProto | undefined {
  return model.graph?.initializer?.find((t) => t.name === name);
}

/** Decodes one initializer into a fresh typed array (a copy: mutate it freely). */
export function getInitializer(model: ModelProto, name: string): Initializer {
  const t = findInitializer(model, name);
  if (!t) throw new Error(`initializer "${name}" not found`);
  return tensorToInitializer(t, externalBase.get(model));
}

export function tensorToInitializer(t: TensorProto, externalDir?: string): Initializer {
  const dims = t.dims ?? [];
  const dataType = t.dataType ?? DataType.UNDEFINED;
  const name = t.name ?? "";
  let raw: Uint8Array | null = null;
  if (isExternal(t)) {
    if (!externalDir) throw new Error(`initializer "${name}" has external data but the model was not read from a file`);
    raw = readExternal(t, externalDir);
  } else if (t.rawData && t.rawData.byteLength > 0) {
    raw = t.rawData;
  }
  if (raw) return { name, dims, dataType, data: typedFromBytes(raw, dataType, name) };
  return { name, dims, dataType, data: typedFromFields(t, dataType, numel(dims)) };
}

/**
 * Adds or replaces an initializer; data is stored as raw_data, viewing `data` without a copy (the
 * model takes ownership). dataType defaults from the array type (Uint8Array means UINT8).
 */
export function setInitializer(model: ModelProto, name: string, dims: number[], data: TensorData, dataType?: number): TensorProto {
  const type = dataType ?? defaultDataType(data);
  const expected = expectedByteLength(type, numel(dims));
  if (expected !== data.byteLength) {
    throw new Error(`initializer "${name}": dims [${dims.join(", ")}] of data type ${type} need ${expected} bytes, got ${data.byteLength}`);
  }
  const tensor = makeTensor(name, dims, data, type);
  const graph = (model.graph ??= {});
  const list = (graph.initializer ??= []);
  const i = list.findIndex((t) => t.name === name);
  if (i >= 0) list[i] = tensor;
  else list.push(tensor);
  return tensor;
}

/** Removes an initializer (and its graph input entry, if any). Returns whether it existed. */
export function removeInitializer(model: ModelProto, name: string): boolean {
  const graph = model.graph;
  if (!graph?.initializer) return false;
  const before = graph.initializer.length;
  graph.initializer = graph.initializer.filter((t) => t.name !== name);
  if (graph.input) graph.input = graph.input.filter((v) => v.name !== name);
  return graph.initializer.length !== before;
}

export function makeTensor(name: string, dims: number[], data: TensorData, dataType?: number): TensorProto {
  return {
    name,
    dims: [...dims],
    dataType: dataType ?? defaultDataType(data),
    rawData: new Uint8Array(data.buffer, data.byteOffset, data.byteLength),
  };
}

// ---------------------------------------------------------------- nodes

export function makeNode(
  opType: string,
  inputs: string[],
  outputs: string[],
  attributes: AttributeProto[] = [],
  opts: { name?: string; domain?: string } = {},
): NodeProto {
  return { opType, input: inputs, output: outputs, attribute: attributes, name: opts.name ?? outputs[0], domain: opts.domain ?? "" };
}

/** Attribute constructors; ONNX needs the type tag, which a bare JS number cannot give. */
export const attr = {
  int: (name: string, i: number): AttributeProto => ({ name, type: AttributeType.INT, i }),
  float: (name: string, f: number): AttributeProto => ({ name, type: AttributeType.FLOAT, f }),
  string: (name: string, s: string): AttributeProto => ({ name, type: AttributeType.STRING, s: new TextEncoder().encode(s) }),
  ints: (name: string, ints: number[]): AttributeProto => ({ name, type: AttributeType.INTS, ints }),
  floats: (name: string, floats: number[]): AttributeProto => ({ name, type: AttributeType.FLOATS, floats }),
  tensor: (name: string, t: TensorProto): AttributeProto => ({ name, type: AttributeType.TENSOR, t }),
};

export function getAttribute(node: NodeProto, name: string): AttributeProto | undefined {
  return node.attribute?.find((a) => a.name === name);
}

/** Inserts a node at `index` (default: the end). Nodes must stay topologically sorted. */
export function addNode(model: ModelProto, node: NodeProto, index?: number): void {
  const nodes = ((model.graph ??= {}).node ??= []);
  nodes.splice(index ?? nodes.length, 0, node);
}

export function findNodeIndex(model: ModelProto, name: string): number {
  return model.graph?.node?.findIndex((n) => n.name === name) ?? -1;
}

/** Replaces one node (by name or index) with zero or more nodes at the same position. */
export function replaceNode(model: ModelProto, target: string | number, replacement: NodeProto | NodeProto[]): void {
  const nodes = model.graph?.node ?? [];
  const i = typeof target === "number" ? target : findNodeIndex(model, target);
  if (i < 0 || i >= nodes.length) throw new Error(`node ${JSON.stringify(target)} not found`);
  nodes.splice(i, 1, ...(Array.isArray(replacement) ? replacement : [replacement]));
}

// ---------------------------------------------------------------- opsets

/** Domain "" and "ai.onnx" are the same operator set; it is reported as "". */
const normDomain = (d: string | undefined) => (d === "ai.onnx" || d === undefined ? "" : d);

export function getOpsetImports(model: ModelProto): { domain: string; version: number }[] {
  return (model.opsetImport ?? []).map((o) => ({ domain: normDomain(o.domain), version: o.version ?? 0 }));
}

export function getOpsetVersion(model: ModelProto, domain = ""): number | undefined {
  return getOpsetImports(model).find((o) => o.domain === normDomain(domain))?.version;
}

/** Sets (adds or overwrites) the version imported for a domain, e.g. ("com.microsoft", 1). */
export function setOpsetImport(model: ModelProto, domain: string, version: number): void {
  const list: OperatorSetIdProto[] = (model.opsetImport ??= []);
  const d = normDomain(domain);
  const existing = list.find((o) => normDomain(o.domain) === d);
  if (existing) existing.version = version;
  else list.push({ domain: d, version });
}

// ---------------------------------------------------------------- linear weights

export interface LinearWeight {
  node: NodeProto;
  nodeIndex: number;
  op: "MatMul" | "Gemm";
  weightName: string;
  /** Input features (rows of the [in, out] matrix). */
  k: number;
  /** Output features. */
  n: number;
  /** Gemm with transB=1 stores the weight as [n, k]. */
  transposed: boolean;
}

/** Every MatMul/Gemm of the main graph whose B input is a 2-D initializer. */
export function findLinearWeights(model: ModelProto): LinearWeight[] {
  const inits = new Map((model.graph?.initializer ?? []).map((t) => [t.name ?? "", t]));
  const out: LinearWeight[] = [];
  (model.graph?.node ?? []).forEach((node, nodeIndex) => {
    if (normDomain(node.domain) !== "" || (node.opType !== "MatMul" && node.opType !== "Gemm")) return;
    const weightName = node.input?.[1];
    const t = weightName === undefined ? undefined : inits.get(weightName);
    if (!t || weightName === undefined || t.dims?.length !== 2) return;
    const transposed = node.opType === "Gemm" && (getAttribute(node, "transB")?.i ?? 0) === 1;
    const [a, b] = t.dims;
    out.push({ node, nodeIndex, op: node.opType, weightName, k: transposed ? b : a, n: transposed ? a : b, transposed });
  });
  return out;
}

// ---------------------------------------------------------------- tensor bytes

export function numel(dims: number[]): number {
  return dims.reduce((p, d) => p * d, 1);
}

const BYTES_PER_ELEMENT: Record<number, number> = {
  [DataType.FLOAT]: 4,
  [DataType.UINT8]: 1,
  [DataType.INT8]: 1,
  [DataType.UINT16]: 2,
  [DataType.INT16]: 2,
  [DataType.INT32]: 4,
  [DataType.INT64]: 8,
  [DataType.BOOL]: 1,
  [DataType.FLOAT16]: 2,
  [DataType.DOUBLE]: 8,
  [DataType.UINT32]: 4,
  [DataType.UINT64]: 8,
  [DataType.COMPLEX64]: 8,
  [DataType.COMPLEX128]: 16,
  [DataType.BFLOAT16]: 2,
  [DataType.FLOAT8E4M3FN]: 1,
  [DataType.FLOAT8E4M3FNUZ]: 1,
  [DataType.FLOAT8E5M2]: 1,
  [DataType.FLOAT8E5M2FNUZ]: 1,
};

/** Raw byte length of `count` elements; 4-bit types pack two per byte (low nibble first). */
export function expectedByteLength(dataType: number, count: number): number {
  if (dataType === DataType.UINT4 || dataType === DataType.INT4) return Math.ceil(count / 2);
  const size = BYTES_PER_ELEMENT[dataType];
  if (size === undefined) throw new Error(`data type ${dataType} has no fixed-width raw encoding`);
  return size * count;
}

function tensorByteLength(t: TensorProto): number {
  if (isExternal(t)) return externalInfo(t).length ?? expectedByteLength(t.dataType ?? 0, numel(t.dims ?? []));
  if (t.rawData && t.rawData.byteLength > 0) return t.rawData.byteLength;
  if (t.dataType === DataType.STRING) return (t.stringData ?? []).reduce((s, b) => s + b.byteLength, 0);
  return expectedByteLength(t.dataType ?? 0, numel(t.dims ?? []));
}

function defaultDataType(data: TensorData): number {
  if (data instanceof Float32Array) return DataType.FLOAT;
  if (data instanceof Float64Array) return DataType.DOUBLE;
  if (data instanceof Int32Array) return DataType.INT32;
  if (data instanceof BigInt64Array) return DataType.INT64;
  if (data instanceof Int8Array) return DataType.INT8;
  if (data instanceof Int16Array) return DataType.INT16;
  if (data instanceof Uint16Array) return DataType.UINT16;
  return DataType.UINT8;
}

/** Copies raw little-endian bytes into a typed array of the tensor's element type. */
function typedFromBytes(raw: Uint8Array, dataType: number, name: string): TensorData {
  // new Uint8Array copies into a fresh, aligned buffer (Buffer.slice would only make a view)
  const copy = new Uint8Array(raw).buffer;
  switch (dataType) {
    case DataType.FLOAT:
      return new Float32Array(copy);
    case DataType.DOUBLE:
      return new Float64Array(copy);
    case DataType.INT32:
      return new Int32Array(copy);
    case DataType.INT64:
      return new BigInt64Array(copy);
    case DataType.INT8:
      return new Int8Array(copy);
    case DataType.INT16:
      return new Int16Array(copy);
    case DataType.UINT16:
    case DataType.FLOAT16:
    case DataType.BFLOAT16:
      return new Uint16Array(copy);
    case DataType.STRING:
    case DataType.UNDEFINED:
      throw new Error(`initializer "${name}": data type ${dataType} has no raw encoding`);
    default:
      return new Uint8Array(copy);
  }
}

/** Typed-field encodings (float_data, int32_data, ...) that older exporters still emit. */
function typedFromFields(t: TensorProto, dataType: number, count: number): TensorData {
  const name = t.name ?? "";
  switch (dataType) {
    case DataType.FLOAT:
      return Float32Array.from(t.floatData ?? []);
    case DataType.DOUBLE:
      return Float64Array.from(t.doubleData ?? []);
    case DataType.INT64:
      return BigInt64Array.from((t.int64Data ?? []).map((v) => BigInt(Math.trunc(v))));
    case DataType.INT32:
      return Int32Array.from(t.int32Data ?? []);
    case DataType.INT8:
      return Int8Array.from(t.int32Data ?? []);
    case DataType.INT16:
      return Int16Array.from(t.int32Data ?? []);
    case DataType.UINT16:
    case DataType.FLOAT16:
    case DataType.BFLOAT16:
      return Uint16Array.from(t.int32Data ?? []);
    case DataType.UINT8:
    case DataType.BOOL:
    case DataType.UINT4:
    case DataType.INT4:
      return Uint8Array.from(t.int32Data ?? []);
    default:
      if (count === 0) return new Uint8Array(0);
      throw new Error(`initializer "${name}": data type ${dataType} is not supported`);
  }
}

/** The tensor's bytes in raw (little-endian) form, whatever field holds them. */
function rawBytes(t: TensorProto): Uint8Array {
  if (t.rawData && t.rawData.byteLength > 0) return t.rawData;
  const typed = typedFromFields(t, t.dataType ?? 0, numel(t.dims ?? []));
  return new Uint8Array(typed.buffer, typed.byteOffset, typed.byteLength);
}

// ---------------------------------------------------------------- external data

function isExternal(t: TensorProto): boolean {
  return t.dataLocation === DataLocation.EXTERNAL;
}

function externalInfo(t: TensorProto): { location: string; offset: number; length?: number } {
  const entries = new Map((t.externalData ?? []).map((e) => [e.key ?? "", e.value ?? ""]));
  const location = entries.get("location");
  if (!location) throw new Error(`initializer "${t.name}" is external but names no location`);
  const length = entries.get("length");
  return { location, offset: Number(entries.get("offset") ?? 0), length: length === undefined ? undefined : Number(length) };
}

function requireBase(base: string | undefined, t: TensorProto): string {
  if (!base) throw new Error(`initializer "${t.name}" has external data but the model was not read from a file`);
  return base;
}

function readExternal(t: TensorProto, dir: string): Uint8Array {
  const info = externalInfo(t);
  const file = path.resolve(dir, info.location);
  if (path.relative(dir, file).startsWith("..")) {
    throw new Error(`initializer "${t.name}": external location "${info.location}" leaves the model directory`);
  }
  const length = info.length ?? expectedByteLength(t.dataType ?? 0, numel(t.dims ?? []));
  const buf = Buffer.allocUnsafe(length);
  const fd = openSync(file, "r");
  try {
    let done = 0;
    while (done < length) {
      const n = readSync(fd, buf, done, Math.min(IO_CHUNK, length - done), info.offset + done);
      if (n === 0) throw new Error(`initializer "${t.name}": ${info.location} ends before offset ${info.offset + length}`);
      done += n;
    }
  } finally {
    closeSync(fd);
  }
  return buf;
}

function withInlineData(t: TensorProto, data: Uint8Array): TensorProto {
  const { externalData: _e, dataLocation: _l, ...rest } = t;
  return { ...rest, rawData: data };
}

function inlineExternal(t: TensorProto, dir: string): void {
  t.rawData = readExternal(t, dir);
  delete t.externalData;
  delete t.dataLocation;
}

export function writeAll(fd: number, data: Uint8Array, position: number): void {
  let done = 0;
  while (done < data.byteLength) {
    done += writeSync(fd, data, done, Math.min(IO_CHUNK, data.byteLength - done), position + done);
  }
}
