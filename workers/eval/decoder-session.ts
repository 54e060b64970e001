/**
 * A stateful decoder over one ORT session of a model in the optimum "decoder with past" layout
 * (docs/decoder.md): input_ids, attention_mask, [position_ids], past_key_values.{i}.key|value in;
 * logits, present.{i}.key|value out. Works for the project's own models and for a user's
 * optimum-exported decoder (position_ids is optional there).
 *
 * The cache is the list of present tensors of the last call, fed back as past on the next. Under
 * webgpu those tensors are GPU buffers (the runtime keeps outputs on the device), so a decode step
 * uploads one token id and downloads one row of logits; everything else stays on the GPU.
 */
import fs from "node:fs";
import path from "node:path";
import { openRuntime, type OrtSession, type OrtTensor, type RuntimeHandle } from "../runtimes";
import type { Runtime } from "../types";
import { kvFloatsPerToken, layerKvHeads, type Decoder, type DecoderShape, type HostKvCache } from "./types";
import { modelStats } from "./model-stats";
import { NEW_KV_PREFIX } from "../onnx/decoder-config";
import { KV_GATHER_IO, kvGatherModel, rotationTables } from "../onnx/kv-gather-graph";

const PAST_RE = /^past_key_values\.(\d+)\.(key|value)$/;

export interface OpenDecoderOptions {
  /** A config.json to read dimensions from when the graph's dims are symbolic (default: beside the model). */
  configPath?: string;
  /** Overrides the context limit read from config.json (e.g. from the model card). */
  maxPosition?: number | null;
  /** Hand the session the file bytes instead of a path (always so under webgpu). */
  fromBytes?: boolean;
}

export async function openDecoder(modelPath: string, runtime: Runtime, options: OpenDecoderOptions = {}): Promise<DecoderSession> {
  if (!fs.existsSync(modelPath)) throw new Error(`model file not found: ${modelPath}`);
  const handle = await openRuntime(runtime);
  let session: OrtSession;
  if (runtime === "webgpu" || options.fromBytes) {
    // The WebGPU build of onnxruntime-web has its Node file loading compiled out (it would fetch()
    // the path), so the model and its external data are handed over as bytes.
    const { model, externalData } = readModelFiles(modelPath);
    session = await handle.ort.InferenceSession.create(model, { ...handle.sessionOptions(), externalData });
  } else {
    // onnxruntime-node and the wasm build read the path and its external data themselves.
    session = await handle.ort.InferenceSession.create(modelPath, handle.sessionOptions());
  }
  try {
    const shape = readShape(session, modelPath, options);
    return new DecoderSession(handle, session, shape);
  } catch (e) {
    await session.release();
    throw e;
  }
}

/** V8's typed-array limit in Node 20 (buffer.constants.MAX_LENGTH): one file must fit in one array. */
const MAX_ARRAY_BYTES = 2 ** 32;

function readWhole(file: string): Uint8Array {
  const size = fs.statSync(file).size;
  if (size >= MAX_ARRAY_BYTES) {
    throw new Error(`${path.basename(file)} is ${(size / 2 ** 30).toFixed(2)} GiB: the webgpu runtime takes files as one array each, at most 4 GiB`);
  }
  const out = new Uint8Array(size);
  const fd = fs.openSync(file, "r");
  try {
    // readSync moves at most 2 GiB per call.
    for (let off = 0; off < size; ) off += fs.readSync(fd, out, off, Math.min(2 ** 30, size - off), off);
  } finally {
    fs.closeSync(fd);
  }
  return out;
}

function readModelFiles(modelPath: string): { model: Uint8Array; externalData: { path: string; data: Uint8Array }[] } {
  const dir = path.dirname(modelPath);
  const externalData = modelStats(modelPath).externalFiles.map((f) => ({ path: path.relative(dir, f).split(path.sep).join("/"), data: readWhole(f) }));
  return { model: readWhole(modelPath), externalData };
}

/** Reads a decoder's dimensions from its config (HF or Frontier names) beside the model file. */
export function readDecoderConfig(file: string): Partial<DecoderShape> & { shapeOnly?: boolean } {
  if (!fs.existsSync(file)) return {};
  const c = JSON.parse(fs.readFileSync(file, "utf8")) as Record<string, unknown>;
  const num = (...keys: string[]) => {
    for (const k of keys) if (typeof c[k] === "number") return c[k] as number;
    return undefined;
  };
  const layers = num("num_layers", "num_hidden_layers", "n_layer");
  const heads = num("num_heads", "num_attention_heads", "n_head");
  const kv = num("num_kv_heads", "num_key_value_heads") ?? heads;
  const hidden = num("hidden_size", "n_embd");
  const headDim = num("head_dim") ?? (hidden && heads ? hidden / heads : undefined);
  // A structurally pruned model lists each layer's kv heads (docs/decoder.md, Pruned models).
  const perLayer =
    Array.isArray(c.layer_num_kv_heads) && c.layer_num_kv_heads.every((x) => typeof x === "number") ? (c.layer_num_kv_heads as number[]) : undefined;
  return {
    numLayers: layers,
    numKvHeads: perLayer?.[0] ?? kv,
    ...(perLayer ? { layerKvHeads: perLayer } : {}),
    headDim,
    vocabSize: num("vocab_size"),
    maxPosition: num("max_position", "max_position_embeddings", "n_positions") ?? null,
    shapeOnly: c.shapeOnly === true ? true : undefined,
  };
}

/**
 * A decoder's dimensions without creating a session: graph input names from the file (cheap walk)
 * and sizes from config.json. Returns null when the config does not give them all.
 */
export function shapeFromFiles(modelPath: string, options: OpenDecoderOptions = {}): DecoderShape | null {
  const cfg = readDecoderConfig(options.configPath ?? path.join(path.dirname(modelPath), "config.json"));
  const { inputs } = modelStats(modelPath);
  const layers = new Set(inputs.map((n) => PAST_RE.exec(n)?.[1]).filter((x) => x !== undefined));
  if (!inputs.includes("input_ids") || layers.size === 0) return null;
  if (!cfg.numKvHeads || !cfg.headDim || !cfg.vocabSize) return null;
  if (cfg.numLayers !== undefined && cfg.numLayers !== layers.size) return null;
  return {
    numLayers: layers.size,
    numKvHeads: cfg.numKvHeads,
    headDim: cfg.headDim,
    vocabSize: cfg.vocabSize,
    maxPosition: options.maxPosition !== undefined ? options.maxPosition : (cfg.maxPosition ?? null),
    hasPositionIds: inputs.includes("position_ids"),
  };
}

function readShape(session: OrtSession, modelPath: string, options: OpenDecoderOptions): DecoderShape {
  const inputs = session.inputNames;
  for (const required of ["input_ids"]) {
    if (!inputs.includes(required)) throw new Error(`${path.basename(modelPath)} has no "${required}" input; inputs: ${inputs.join(", ")}`);
  }
  if (!session.outputNames.includes("logits")) throw new Error(`${path.basename(modelPath)} has no "logits" output`);
  const layers = new Set<number>();
  for (const n of inputs) {
    const m = PAST_RE.exec(n);
    if (m) layers.add(Number(m[1]));
  }
  if (layers.size === 0) {
    throw new Error(`${path.basename(modelPath)} has no past_key_values.* inputs: export it as a decoder with past (optimum "text-generation-with-past")`);
  }
  const cfg = readDecoderConfig(options.configPath ?? path.join(path.dirname(modelPath), "config.json"));
  const dims = (name: string) => {
    const md = session.inputMetadata.find((m) => m.name === name) ?? session.outputMetadata.find((m) => m.name === name);
    return md?.isTensor ? md.shape : [];
  };
  const fixed = (d: number | string | undefined) => (typeof d === "number" && d > 0 ? d : undefined);
  const pk = dims("past_key_values.0.key");
  const numKvHeads = fixed(pk[1]) ?? cfg.numKvHeads;
  const headDim = fixed(pk[3]) ?? cfg.headDim;
  const vocabSize = fixed(dims("logits")[2]) ?? cfg.vocabSize;
  if (!numKvHeads || !headDim || !vocabSize) {
    throw new Error(`${path.basename(modelPath)}: kv heads, head dim or vocab size are symbolic in the graph and no config.json gives them`);
  }
  const perLayer = Array.from({ length: layers.size }, (_, l) => fixed(dims(`past_key_values.${l}.key`)[1]) ?? cfg.layerKvHeads?.[l] ?? numKvHeads);
  return {
    numLayers: layers.size,
    numKvHeads,
    ...(perLayer.some((h) => h !== numKvHeads) ? { layerKvHeads: perLayer } : {}),
    headDim,
    vocabSize,
    maxPosition: options.maxPosition !== undefined ? options.maxPosition : (cfg.maxPosition ?? null),
    hasPositionIds: inputs.includes("position_ids"),
  };
}

/** Host cache mode's buffers: per layer [kv_heads, capacity, head_dim] keys and values. */
interface HostBuffers {
  capacity: number;
  keys: Float32Array[];
  values: Float32Array[];
}

export class DecoderSession implements Decoder {
  /** Present tensors of the last call, [key0, value0, key1, value1, ...]; empty before the first. */
  private cache: OrtTensor[] = [];
  /** Token ids whose keys/values the cache holds, so a shared prefix can be reused. */
  private tokens: number[] = [];
  private readonly hasMask: boolean;
  /**
   * Absolute position of cache entry 0's successor minus the cache length: 0 unless entries were
   * evicted with their positions kept (H2O, SnapKV), where new tokens continue at their absolute
   * position while the cache is shorter. StreamingLLM keeps it 0 (positions within the cache).
   */
  positionOffset = 0;
  /**
   * Attention scores of the last forward, per layer [num_heads, cache length]: the attention
   * probabilities summed over the last `attentionWindow` queries (all of them when null). Only a
   * model with `attn_scores.*` outputs (workers/methods/tokens/attention-graph.ts) gives them.
   */
  lastAttention: Float32Array[] | null = null;
  attentionWindow: number | null = null;
  private readonly hasAttention: boolean;
  /**
   * Host cache mode (cpu and wasm, on a graph with new_key_values.* outputs): the cache lives in
   * buffers this object owns, [kv_heads, capacity, head_dim] per layer and kind, with the valid
   * entries first. A call feeds the whole buffers as past, masks the unused slots with
   * attention_mask zeros, gives position_ids explicitly, and fetches only the logits and the call's
   * own keys and values, which are written into the buffers. Without it the runtime hands the whole
   * present cache back on every step, copied into fresh arrays: 18% of a 1-thread W4A8 step of
   * shape-125m at 128 cached tokens and 49% at 512 (`npm run bench:peers -- --breakdown`).
   */
  private readonly hostMode: boolean;
  private host: HostBuffers | null = null;
  /**
   * Under webgpu: the sessions of the KV gather graph (workers/onnx/kv-gather-graph.ts), plain and
   * rotating keys back, created on first use on this runtime and released with the decoder.
   */
  private gatherSessions: { plain?: Promise<OrtSession>; rotate?: Promise<OrtSession> } = {};

  constructor(
    readonly handle: RuntimeHandle,
    readonly session: OrtSession,
    readonly shape: DecoderShape,
    options: { hostCache?: boolean } = {},
  ) {
    this.hasMask = session.inputNames.includes("attention_mask");
    this.hasAttention = session.inputNames.includes("attn_window");
    const outs = new Set(session.outputNames);
    const newKv = Array.from({ length: shape.numLayers }, (_, l) => [`${NEW_KV_PREFIX}${l}.key`, `${NEW_KV_PREFIX}${l}.value`]).flat();
    this.hostMode =
      (options.hostCache ?? true) &&
      handle.runtime !== "webgpu" &&
      this.hasMask &&
      shape.hasPositionIds &&
      !this.hasAttention &&
      newKv.every((n) => outs.has(n));
  }

  /** Whether the cache is kept in host buffers (see hostMode); false means present tensors round-trip. */
  get hostCache(): boolean {
    return this.hostMode;
  }

  get pastLength(): number {
    return this.tokens.length;
  }

  get cachedTokens(): readonly number[] {
    return this.tokens;
  }

  /** Bytes the KV cache holds now (float32 keys and values of every layer). */
  get kvCacheBytes(): number {
    return kvFloatsPerToken(this.shape) * this.tokens.length * 4;
  }

  private emptyPast(): OrtTensor[] {
    const { numLayers, headDim } = this.shape;
    const out: OrtTensor[] = [];
    for (let i = 0; i < numLayers * 2; i++) {
      out.push(new this.handle.ort.Tensor("float32", new Float32Array(0), [1, layerKvHeads(this.shape, i >> 1), 0, headDim]));
    }
    return out;
  }

  /** Token ids inside the vocabulary, and the context (after pastLen cached entries) within max_position. */
  private checkIds(ids: readonly number[], pastLen: number): void {
    const V = this.shape.vocabSize;
    for (const id of ids) {
      if (!Number.isInteger(id) || id < 0 || id >= V) throw new Error(`token id ${id} outside the vocabulary [0, ${V})`);
    }
    this.checkContext(pastLen + this.positionOffset + ids.length);
  }

  private checkContext(total: number): void {
    const max = this.shape.maxPosition;
    if (max !== null && total > max) throw new Error(`context of ${total} tokens exceeds the model's maximum of ${max}`);
  }

  /** One forward over `ids` after `past` (pastLen tokens); returns all logits and the presents. */
  private async forward(ids: number[], past: OrtTensor[], pastLen: number): Promise<{ logits: Float32Array; present: OrtTensor[] }> {
    if (ids.length === 0) throw new Error("forward needs at least one token");
    const { Tensor } = this.handle.ort;
    const V = this.shape.vocabSize;
    this.checkIds(ids, pastLen);
    const feeds: Record<string, OrtTensor> = {
      input_ids: new Tensor("int64", BigInt64Array.from(ids, BigInt), [1, ids.length]),
    };
    if (this.hasMask) {
      feeds.attention_mask = new Tensor("int64", new BigInt64Array(pastLen + ids.length).fill(1n), [1, pastLen + ids.length]);
    }
    if (this.shape.hasPositionIds) {
      feeds.position_ids = new Tensor(
        "int64",
        BigInt64Array.from(ids, (_, i) => BigInt(pastLen + this.positionOffset + i)),
        [1, ids.length],
      );
    }
    for (let l = 0; l < this.shape.numLayers; l++) {
      feeds[`past_key_values.${l}.key`] = past[2 * l];
      feeds[`past_key_values.${l}.value`] = past[2 * l + 1];
    }
    if (this.hasAttention) feeds.attn_window = new Tensor("int64", BigInt64Array.from([BigInt(Math.min(ids.length, this.attentionWindow ?? ids.length))]), [1]);
    const out = await this.session.run(feeds);
    if (this.hasAttention) {
      this.lastAttention = [];
      for (let l = 0; l < this.shape.numLayers; l++) this.lastAttention.push(Float32Array.from((await out[`attn_scores.${l}`].getData()) as Float32Array));
    }
    const logitsTensor = out.logits;
    // getData(true) downloads GPU logits and frees their buffer; host tensors are returned as is.
    const logits = (await logitsTensor.getData(true)) as Float32Array;
    if (logits.length !== ids.length * V) throw new Error(`logits have ${logits.length} values, expected ${ids.length} x ${V}`);
    const present: OrtTensor[] = [];
    for (let l = 0; l < this.shape.numLayers; l++) {
      present.push(out[`present.${l}.key`], out[`present.${l}.value`]);
    }
    for (const name of Object.keys(out)) {
      if (name !== "logits" && !name.startsWith("present.")) releaseTensor(out[name]);
    }
    return { logits, present };
  }

  /**
   * One forward in host cache mode over `ids` after the valid cache entries (pastLen of them), which
   * it then extends with the call's keys and values; returns all logits.
   */
  private async forwardHost(ids: number[], pastLen: number): Promise<Float32Array> {
    if (ids.length === 0) throw new Error("forward needs at least one token");
    const { Tensor } = this.handle.ort;
    const { numLayers, headDim: D, vocabSize: V } = this.shape;
    this.checkIds(ids, pastLen);
    const T = ids.length;
    const C = this.host?.capacity ?? 0;
    const mask = new BigInt64Array(C + T);
    mask.fill(1n, 0, pastLen);
    mask.fill(1n, C);
    const feeds: Record<string, OrtTensor> = {
      input_ids: new Tensor("int64", BigInt64Array.from(ids, BigInt), [1, T]),
      attention_mask: new Tensor("int64", mask, [1, C + T]),
      position_ids: new Tensor(
        "int64",
        BigInt64Array.from(ids, (_, i) => BigInt(pastLen + this.positionOffset + i)),
        [1, T],
      ),
    };
    const fetches = ["logits"];
    for (let l = 0; l < numLayers; l++) {
      const dims = [1, layerKvHeads(this.shape, l), C, D];
      feeds[`past_key_values.${l}.key`] = new Tensor("float32", this.host?.keys[l] ?? new Float32Array(0), dims);
      feeds[`past_key_values.${l}.value`] = new Tensor("float32", this.host?.values[l] ?? new Float32Array(0), dims);
      fetches.push(`${NEW_KV_PREFIX}${l}.key`, `${NEW_KV_PREFIX}${l}.value`);
    }
    const out = await this.session.run(feeds, fetches);
    const logits = (await out.logits.getData()) as Float32Array;
    if (logits.length !== T * V) throw new Error(`logits have ${logits.length} values, expected ${T} x ${V}`);
    const host = this.reserve(pastLen, pastLen + T);
    for (let l = 0; l < numLayers; l++) {
      const heads = layerKvHeads(this.shape, l);
      for (const [kind, dst] of [["key", host.keys[l]] as const, ["value", host.values[l]] as const]) {
        const src = (await out[`${NEW_KV_PREFIX}${l}.${kind}`].getData()) as Float32Array;
        if (src.length !== heads * T * D) throw new Error(`${NEW_KV_PREFIX}${l}.${kind} holds ${src.length} floats, expected ${heads} x ${T} x ${D}`);
        copyHeadRows(src, T, dst.subarray(pastLen * D), host.capacity, heads, T, D);
      }
    }
    for (const name of Object.keys(out)) releaseTensor(out[name]);
    return logits;
  }

  /**
   * Host mode: makes room for `need` entries, keeping the first `valid`. Grows by a quarter (at
   * least 32 slots), so a decode copies the cache once per many steps instead of on every one.
   */
  private reserve(valid: number, need: number): HostBuffers {
    const C = this.host?.capacity ?? 0;
    if (this.host && need <= C) return this.host;
    const capacity = Math.max(need, Math.ceil((need * 1.25) / 32) * 32);
    this.host = { capacity, ...this.restride(valid, capacity) };
    return this.host;
  }

  private replaceCache(present: OrtTensor[], tokens: number[]): void {
    for (const t of this.cache) releaseTensor(t);
    this.cache = present;
    this.tokens = tokens;
  }

  reset(): void {
    this.replaceCache([], []);
    this.host = null;
    this.positionOffset = 0;
  }

  async prefill(ids: number[]): Promise<Float32Array> {
    this.reset();
    if (this.hostMode) return lastRow(await this.extend(ids), this.shape.vocabSize);
    const { logits, present } = await this.forward(ids, this.emptyPast(), 0);
    this.replaceCache(present, [...ids]);
    return lastRow(logits, this.shape.vocabSize);
  }

  async extend(ids: number[]): Promise<Float32Array> {
    if (this.hostMode) {
      const logits = await this.forwardHost(ids, this.tokens.length);
      this.tokens = [...this.tokens, ...ids];
      return logits;
    }
    const past = this.cache.length ? this.cache : this.emptyPast();
    const { logits, present } = await this.forward(ids, past, this.tokens.length);
    this.replaceCache(present, [...this.tokens, ...ids]);
    return logits;
  }

  async step(id: number): Promise<Float32Array> {
    return this.extend([id]);
  }

  async forwardFull(ids: number[]): Promise<Float32Array> {
    const { logits, present } = await this.forward(ids, this.emptyPast(), 0);
    for (const t of present) releaseTensor(t);
    return logits;
  }

  async readCache(): Promise<HostKvCache> {
    const keys: Float32Array[] = [];
    const values: Float32Array[] = [];
    if (this.hostMode) return this.readHost(this.tokens.length);
    for (let l = 0; l < this.shape.numLayers; l++) {
      if (this.cache.length === 0) {
        keys.push(new Float32Array(0));
        values.push(new Float32Array(0));
      } else {
        keys.push(Float32Array.from((await this.cache[2 * l].getData()) as Float32Array));
        values.push(Float32Array.from((await this.cache[2 * l + 1].getData()) as Float32Array));
      }
    }
    return { length: this.tokens.length, keys, values };
  }

  /**
   * Replaces the cache. `tokens` are the ids the new entries stand for (after eviction they are no
   * longer a prefix of the sequence, so prefix reuse is disabled unless given).
   */
  async writeCache(cache: HostKvCache, tokens?: number[]): Promise<void> {
    const { numLayers, headDim } = this.shape;
    if (cache.keys.length !== numLayers || cache.values.length !== numLayers) throw new Error(`cache must have ${numLayers} layers`);
    for (let l = 0; l < numLayers; l++) {
      const per = layerKvHeads(this.shape, l) * cache.length * headDim;
      if (cache.keys[l].length !== per || cache.values[l].length !== per) {
        throw new Error(`layer ${l}: cache arrays must hold ${per} floats for ${cache.length} tokens`);
      }
    }
    // Positions continue from the cache length; callers evicting tokens keep that in mind.
    const ids = tokens ?? new Array<number>(cache.length).fill(-1);
    if (this.hostMode) {
      this.writeHost(cache);
      this.tokens = ids;
      return;
    }
    const tensors: OrtTensor[] = [];
    for (let l = 0; l < numLayers; l++) {
      const dims = [1, layerKvHeads(this.shape, l), cache.length, headDim];
      tensors.push(new this.handle.ort.Tensor("float32", cache.keys[l], dims), new this.handle.ort.Tensor("float32", cache.values[l], dims));
    }
    this.replaceCache(tensors, ids);
  }

  /**
   * Keeps the first `length` cache entries (speculative rollback, prefix reuse). On cpu and wasm
   * each [1, kv_heads, len, head_dim] tensor is cut head by head straight from its data, host memory
   * already, so nothing is copied but the kept rows. Under webgpu the gather graph keeps entries
   * 0..length-1 of the GPU-resident tensors on the device (gatherOnDevice): only the index goes up.
   */
  async truncate(length: number): Promise<void> {
    if (length === this.tokens.length) return;
    if (length > this.tokens.length || length < 0 || !Number.isInteger(length)) {
      throw new Error(`cannot truncate a cache of ${this.tokens.length} tokens to ${length}`);
    }
    if (length === 0) return this.reset();
    if (this.hostMode) {
      // the entries past `length` stay in the buffers, masked out, and are overwritten next
      this.tokens = this.tokens.slice(0, length);
      return;
    }
    if (this.handle.runtime === "webgpu") {
      // heads from the tensors themselves: layers may differ (a structurally pruned model)
      const first = (heads: number) => Int32Array.from({ length: heads * length }, (_, r) => r % length);
      return this.gatherOnDevice((l) => first(Number(this.cache[2 * l].dims[1])), length, this.tokens.slice(0, length));
    }
    const full = this.tokens.length;
    const row = this.shape.headDim;
    const cropped: OrtTensor[] = [];
    for (const t of this.cache) {
      // Heads from the tensor itself: layers may differ (a structurally pruned model).
      const heads = Number(t.dims[1]);
      const src = (await t.getData()) as Float32Array;
      if (src.length !== heads * full * row) throw new Error(`cache tensor holds ${src.length} floats, expected ${heads} x ${full} x ${row}`);
      const out = new Float32Array(heads * length * row);
      for (let h = 0; h < heads; h++) out.set(src.subarray(h * full * row, (h * full + length) * row), h * length * row);
      cropped.push(new this.handle.ort.Tensor("float32", out, [1, heads, length, row]));
    }
    this.replaceCache(cropped, this.tokens.slice(0, length));
  }

  /**
   * Keeps, per layer and per kv head, the cache entries at `keep[layer][head]` (indices into the
   * current cache, in the order given; every layer and head keeps the same count, since one
   * attention mask serves them all). `rotateBack`, when given, rotates each kept key back by that
   * many positions (one count per kept slot, shared by the heads): StreamingLLM's positions within
   * the cache on a graph that caches rotated keys. Entries stand for no single token afterwards, so
   * prefix reuse is off until the next prefill. On cpu and wasm the [1, kv_heads, len, head_dim]
   * data is gathered on the CPU (as truncate does); under webgpu the gather graph runs on the
   * GPU-resident tensors and its outputs stay there (gatherOnDevice): only the indices and, with
   * `rotateBack`, the kept slots' cos and sin tables go up.
   */
  async keepPositions(keep: readonly (readonly (readonly number[])[])[], rotateBack?: { shift: Int32Array; ropeTheta: number }): Promise<void> {
    const { numLayers, headDim: row } = this.shape;
    const full = this.tokens.length;
    if (keep.length !== numLayers) throw new Error(`keepPositions: ${keep.length} layers given, the model has ${numLayers}`);
    const kept = keep[0]?.[0]?.length ?? 0;
    // every index checked before anything moves, on every path
    const index = keep.map((heads, l) => keepIndex(heads, l, layerKvHeads(this.shape, l), kept, full));
    if (this.handle.runtime === "webgpu") return this.gatherOnDevice((l) => index[l], kept, new Array<number>(kept).fill(-1), rotateBack);
    if (this.hostMode && this.host && keep.every((heads) => heads.every(movesDown))) return this.compactHost(keep, kept, rotateBack);
    const keys: Float32Array[] = [];
    const values: Float32Array[] = [];
    // rows of head h start at h * stride entries: the cache length, or the host buffers' capacity
    const stride = this.hostMode ? (this.host?.capacity ?? 0) : full;
    for (let l = 0; l < numLayers; l++) {
      const heads = layerKvHeads(this.shape, l);
      const pair = this.hostMode
        ? ([
            ["key", this.host?.keys[l]],
            ["value", this.host?.values[l]],
          ] as const)
        : ([
            ["key", this.cache[2 * l]],
            ["value", this.cache[2 * l + 1]],
          ] as const);
      for (const [kind, t] of pair) {
        const src = t === undefined ? new Float32Array(0) : t instanceof Float32Array ? t : ((await t.getData()) as Float32Array);
        const out = new Float32Array(heads * kept * row);
        for (let r = 0; r < heads * kept; r++) {
          const i = index[l][r];
          const h = Math.floor(r / kept);
          out.set(src.subarray((h * stride + i) * row, (h * stride + i + 1) * row), r * row);
        }
        if (kind === "key" && rotateBack) rotateRows(out, heads * kept, row, (r) => rotateBack.shift[r % kept], rotateBack.ropeTheta);
        (kind === "key" ? keys : values).push(out);
      }
    }
    await this.writeCache({ length: kept, keys, values });
  }

  /**
   * Under webgpu: replaces the cache by the gather graph's outputs on each present tensor, fed where
   * it lies (a GPU buffer) with `index(layer)`, [kv_heads x kept] entries of that layer, and outputs
   * kept on the device; keys turn back by `rotateBack` in the graph. Nothing of the cache is read
   * back. The replaced tensors are disposed by replaceCache.
   */
  private async gatherOnDevice(
    index: (layer: number) => Int32Array,
    kept: number,
    tokens: number[],
    rotateBack?: { shift: Int32Array; ropeTheta: number },
  ): Promise<void> {
    const { Tensor } = this.handle.ort;
    if (kept === 0) return this.replaceCache(this.emptyPast(), tokens);
    const plain = await this.gatherSession(false);
    const rotate = rotateBack ? await this.gatherSession(true) : null;
    const tables: Record<string, OrtTensor> = {};
    if (rotateBack) {
      const half = this.shape.headDim / 2;
      const { cos, sin } = rotationTables(rotateBack.shift.subarray(0, kept), this.shape.headDim, rotateBack.ropeTheta);
      tables[KV_GATHER_IO.cos] = new Tensor("float32", cos, [1, 1, kept, half]);
      tables[KV_GATHER_IO.sin] = new Tensor("float32", sin, [1, 1, kept, half]);
    }
    const out: OrtTensor[] = [];
    try {
      for (let l = 0; l < this.shape.numLayers; l++) {
        const rows = index(l);
        const idx = new Tensor("int32", rows, [1, rows.length / kept, kept, 1]);
        for (const kind of [0, 1]) {
          const feeds = { [KV_GATHER_IO.cache]: this.cache[2 * l + kind], [KV_GATHER_IO.index]: idx };
          const res = kind === 0 && rotate ? await rotate.run({ ...feeds, ...tables }) : await plain.run(feeds);
          out.push(res[KV_GATHER_IO.kept]);
        }
      }
    } catch (e) {
      for (const t of out) releaseTensor(t);
      throw e;
    }
    this.replaceCache(out, tokens);
  }

  /** The gather graph's session on this runtime (outputs on the device under webgpu), made once. */
  private gatherSession(rotate: boolean): Promise<OrtSession> {
    const key = rotate ? "rotate" : "plain";
    let s = this.gatherSessions[key];
    if (!s) {
      s = this.handle.ort.InferenceSession.create(kvGatherModel(this.shape.headDim, { rotate }), this.handle.sessionOptions());
      // a failed start is not kept: the next call tries again
      s.catch(() => delete this.gatherSessions[key]);
      this.gatherSessions[key] = s;
    }
    return s;
  }

  /**
   * Host mode, every kept entry at or beyond its new slot (movesDown): the kept rows move down within
   * the buffers themselves (entry keep[j] >= j goes to slot j, one copyWithin per run of consecutive
   * entries) and kept keys are rotated in place, so an eviction allocates nothing and copies only the
   * rows that move. keepPositions has checked the indices.
   */
  private compactHost(keep: readonly (readonly (readonly number[])[])[], kept: number, rotateBack?: { shift: Int32Array; ropeTheta: number }): void {
    const host = this.host;
    if (!host) throw new Error("compactHost: no host buffers");
    const D = this.shape.headDim;
    for (let l = 0; l < this.shape.numLayers; l++) {
      const heads = layerKvHeads(this.shape, l);
      for (let h = 0; h < heads; h++) {
        const idx = keep[l][h];
        const base = h * host.capacity;
        for (let j = 0; j < kept; ) {
          let run = 1;
          while (j + run < kept && idx[j + run] === idx[j] + run) run++;
          if (idx[j] !== j) for (const buf of [host.keys[l], host.values[l]]) buf.copyWithin((base + j) * D, (base + idx[j]) * D, (base + idx[j] + run) * D);
          j += run;
        }
        if (rotateBack) rotateRows(host.keys[l].subarray(base * D, (base + kept) * D), kept, D, (r) => rotateBack.shift[r], rotateBack.ropeTheta);
      }
    }
    this.tokens = new Array<number>(kept).fill(-1);
  }

  /** Host mode: the first `length` entries as exact [kv_heads, length, head_dim] arrays. */
  private readHost(length: number): HostKvCache {
    return { length, ...this.restride(length, length) };
  }

  /**
   * Host mode: new per-layer arrays of `stride` entries per kv head holding the first `rows`
   * entries of each head of the current buffers (none when there are no buffers yet).
   */
  private restride(rows: number, stride: number): { keys: Float32Array[]; values: Float32Array[] } {
    const D = this.shape.headDim;
    const copy = (src: Float32Array | undefined, heads: number) => {
      const out = new Float32Array(heads * stride * D);
      if (src && rows > 0) copyHeadRows(src, this.host?.capacity ?? 0, out, stride, heads, rows, D);
      return out;
    };
    const keys: Float32Array[] = [];
    const values: Float32Array[] = [];
    for (let l = 0; l < this.shape.numLayers; l++) {
      const heads = layerKvHeads(this.shape, l);
      keys.push(copy(this.host?.keys[l], heads));
      values.push(copy(this.host?.values[l], heads));
    }
    return { keys, values };
  }

  /** Host mode: replaces the buffers with a copy of `cache` (exact [kv_heads, length, head_dim] arrays). */
  private writeHost(cache: HostKvCache): void {
    this.host = null;
    if (cache.length === 0) return;
    const host = this.reserve(0, cache.length);
    const D = this.shape.headDim;
    for (let l = 0; l < this.shape.numLayers; l++) {
      const heads = layerKvHeads(this.shape, l);
      copyHeadRows(cache.keys[l], cache.length, host.keys[l], host.capacity, heads, cache.length, D);
      copyHeadRows(cache.values[l], cache.length, host.values[l], host.capacity, heads, cache.length, D);
    }
  }

  async generate(prompt: number[], maxNew: number, stop: ReadonlySet<number> = new Set()): Promise<number[]> {
    const out: number[] = [];
    if (maxNew <= 0) return out;
    let logits = await this.prefill(prompt);
    for (;;) {
      const next = argmax(logits);
      out.push(next);
      if (out.length >= maxNew || stop.has(next)) return out;
      logits = await this.step(next);
    }
  }

  async logprobs(context: number[], continuation: number[]): Promise<number[]> {
    if (context.length === 0) throw new Error("logprobs needs at least one context token");
    if (continuation.length === 0) return [];
    const V = this.shape.vocabSize;
    // Reuse the cached prefix (multiple-choice scores several continuations of one prompt): keep all
    // but the last context token, whose logits predict the first continuation token.
    const keep = context.length - 1;
    let logits: Float32Array;
    const toRun = [context[keep], ...continuation.slice(0, -1)];
    if (keep > 0 && this.tokens.length >= keep && sameIds(this.tokens, context, keep)) {
      await this.truncate(keep);
      logits = await this.extend(toRun);
    } else {
      this.reset();
      logits = await this.extend([...context.slice(0, keep), ...toRun]);
      logits = logits.subarray(keep * V);
    }
    return continuation.map((tok, i) => logSoftmaxAt(logits.subarray(i * V, (i + 1) * V), tok));
  }

  async release(): Promise<void> {
    this.reset();
    const gathers = Object.values(this.gatherSessions);
    this.gatherSessions = {};
    for (const g of gathers) await (await g.catch(() => null))?.release();
    await this.session.release();
  }
}

/**
 * Rotates rows of rotary-embedded keys back by `shift(row)` positions: R(-delta) in the rotate-half
 * layout of docs/decoder.md (x1*cos + x2*sin, x2*cos - x1*sin for angle delta * inv_freq).
 */
export function rotateRows(data: Float32Array, rows: number, dim: number, shift: (row: number) => number, theta: number): void {
  const half = dim / 2;
  const tables = new Map<number, Float64Array>();
  for (let r = 0; r < rows; r++) {
    const d = shift(r);
    if (d === 0) continue;
    let t = tables.get(d);
    if (!t) {
      // cos in [0, half), sin in [half, dim) for the angles d * inv_freq[j]
      t = new Float64Array(dim);
      for (let j = 0; j < half; j++) {
        const a = d * theta ** ((-2 * j) / dim);
        t[j] = Math.cos(a);
        t[j + half] = Math.sin(a);
      }
      tables.set(d, t);
    }
    const o = r * dim;
    for (let j = 0; j < half; j++) {
      const c = t[j];
      const s = t[j + half];
      const x1 = data[o + j];
      const x2 = data[o + j + half];
      data[o + j] = x1 * c + x2 * s;
      data[o + j + half] = x2 * c - x1 * s;
    }
  }
}

/**
 * Copies the first `rows` entries of each of `heads` kv heads between [heads, stride, dim] layouts
 * of different strides (entries per head).
 */
function copyHeadRows(src: Float32Array, srcStride: number, dst: Float32Array, dstStride: number, heads: number, rows: number, dim: number): void {
  for (let h = 0; h < heads; h++) dst.set(src.subarray(h * srcStride * dim, (h * srcStride + rows) * dim), h * dstStride * dim);
}

/**
 * One layer's keepPositions indices, checked (heads, equal counts, inside the cache), as a [kv_heads
 * x kept] index: the gather graph's input under webgpu, the rows to copy on the host.
 */
function keepIndex(perHead: readonly (readonly number[])[], layer: number, heads: number, kept: number, full: number): Int32Array {
  if (perHead.length !== heads) throw new Error(`keepPositions: layer ${layer} has ${heads} kv heads, ${perHead.length} index lists given`);
  const out = new Int32Array(heads * kept);
  for (let h = 0; h < heads; h++) {
    const idx = perHead[h];
    if (idx.length !== kept) throw new Error(`keepPositions: layer ${layer} head ${h} keeps ${idx.length} entries, others ${kept}`);
    for (let j = 0; j < kept; j++) {
      const i = idx[j];
      if (!Number.isInteger(i) || i < 0 || i >= full) throw new Error(`keepPositions: index ${i} outside the cache of ${full}`);
      out[h * kept + j] = i;
    }
  }
  return out;
}

/**
 * A kept list compactHost can apply in place: every slot j takes an entry at j or beyond, so copying
 * in slot order reads each entry before its own slot is written.
 */
function movesDown(idx: readonly number[]): boolean {
  for (let j = 0; j < idx.length; j++) if (!(idx[j] >= j)) return false;
  return true;
}

function sameIds(a: readonly number[], b: readonly number[], n: number): boolean {
  for (let i = 0; i < n; i++) if (a[i] !== b[i]) return false;
  return true;
}

/**
 * Frees a tensor the session no longer needs. Always disposed, not only while on the GPU: a GPU
 * tensor read back with getData() reports location "cpu" afterwards but still holds its buffer.
 */
function releaseTensor(t: OrtTensor | undefined): void {
  t?.dispose();
}

export function lastRow(logits: Float32Array, vocab: number): Float32Array {
  return logits.subarray(logits.length - vocab);
}

export function argmax(row: Float32Array): number {
  let best = 0;
  for (let i = 1; i < row.length; i++) if (row[i] > row[best]) best = i;
  return best;
}

/** log softmax(row)[index], computed in float64 with the max subtracted. */
export function logSoftmaxAt(row: Float32Array, index: number): number {
  let max = -Infinity;
  for (let i = 0; i < row.length; i++) if (row[i] > max) max = row[i];
  let sum = 0;
  for (let i = 0; i < row.length; i++) sum += Math.exp(row[i] - max);
  return row[index] - max - Math.log(sum);
}
