/**
 * Activation capture for calibration-based methods (GPTQ, AWQ, SmoothQuant, Wanda, SparseGPT).
 *
 * The model is copied with extra graph outputs that tap the activation input of chosen MatMuls and
 * reduce it inside the graph, so onnxruntime does the heavy lifting and only small summaries cross
 * to JavaScript per calibration sequence:
 *   sum|x_j| and max|x_j| per input channel, and optionally the Gram matrix Σ_t x_t x_tᵀ (K x K),
 *   which is GPTQ's Hessian (up to 2/n) and gives AWQ's output error exactly.
 * Accumulation across sequences is in float64.
 */
import fs from "node:fs";
import path from "node:path";
import * as ort from "onnxruntime-node";
import {
  attr,
  DataLocation,
  DataType,
  encodeModel,
  getInitializer,
  getOpsetVersion,
  initializerBytes,
  makeNode,
  makeTensor,
  readModel,
  setInitializer,
  writeModel,
  type ModelProto,
  type ValueInfoProto,
} from "../onnx/model-io";

export interface Tap {
  /** Name of the activation tensor (a MatMul's first input). */
  name: string;
  /** Its last dimension (the MatMul's K). */
  k: number;
}

export interface TapStats {
  name: string;
  k: number;
  /** Calibration tokens seen. */
  tokens: number;
  sumAbs: Float64Array;
  maxAbs: Float64Array;
  /** Σ x xᵀ over tokens, row-major [k, k]; null unless requested. */
  gram: Float64Array | null;
}

export interface CaptureOptions {
  /** Also accumulate the K x K Gram matrix per tap. */
  gram: boolean;
  /** Directory for the temporary instrumented model of models too large to hand over in memory (removed afterwards). */
  scratchDir: string;
  onProgress?: (done: number, total: number) => void;
  /** Instrumented models with at most this many bytes of initializers go to onnxruntime in memory (default `IN_MEMORY_CAPTURE_BYTES`). */
  inMemoryBytes?: number;
}

const safe = (name: string) => name.replace(/[^A-Za-z0-9_.]/g, "_");

/** Adds the statistic nodes and outputs for each tap to a model (in place); returns the output names. */
export function instrumentTaps(model: ModelProto, taps: readonly Tap[], gram: boolean) {
  const graph = (model.graph ??= {});
  const nodes = (graph.node ??= []);
  const outputs = (graph.output ??= []);
  const opset = getOpsetVersion(model, "") ?? 13;
  const names = new Map<string, { sumAbs: string; maxAbs: string; gram: string | null }>();
  const floatOut = (name: string): ValueInfoProto => ({ name, type: { tensorType: { elemType: DataType.FLOAT } } });
  for (const tap of taps) {
    if (names.has(tap.name)) continue;
    const p = `calib/${safe(tap.name)}`;
    setInitializer(model, `${p}/shape`, [2], new BigInt64Array([-1n, BigInt(tap.k)]));
    setInitializer(model, `${p}/axes`, [1], new BigInt64Array([0n]));
    const flat = `${p}/flat`;
    const abs = `${p}/abs`;
    const sumAbs = `${p}/sum_abs`;
    const maxAbs = `${p}/max_abs`;
    nodes.push(makeNode("Reshape", [tap.name, `${p}/shape`], [flat]));
    nodes.push(makeNode("Abs", [flat], [abs]));
    // Reduce ops took axes as an attribute before opsets 13 (ReduceSum) and 18 (ReduceMax).
    nodes.push(
      opset >= 13
        ? makeNode("ReduceSum", [abs, `${p}/axes`], [sumAbs], [attr.int("keepdims", 0)])
        : makeNode("ReduceSum", [abs], [sumAbs], [attr.ints("axes", [0]), attr.int("keepdims", 0)]),
    );
    nodes.push(
      opset >= 18
        ? makeNode("ReduceMax", [abs, `${p}/axes`], [maxAbs], [attr.int("keepdims", 0)])
        : makeNode("ReduceMax", [abs], [maxAbs], [attr.ints("axes", [0]), attr.int("keepdims", 0)]),
    );
    outputs.push(floatOut(sumAbs), floatOut(maxAbs));
    let gramName: string | null = null;
    if (gram) {
      gramName = `${p}/gram`;
      nodes.push(makeNode("Gemm", [flat, flat], [gramName], [attr.int("transA", 1)]));
      outputs.push(floatOut(gramName));
    }
    names.set(tap.name, { sumAbs, maxAbs, gram: gramName });
  }
  return names;
}

/**
 * Feeds for one sequence in the decoder layout (docs/decoder.md): batch 1, an empty KV cache
 * (past length 0), attention over every token, positions 0..T-1.
 */
export function decoderFeeds(session: ort.InferenceSession, model: ModelProto, ids: readonly number[]): Record<string, ort.Tensor> {
  const T = ids.length;
  const feeds: Record<string, ort.Tensor> = {};
  const declared = new Map((model.graph?.input ?? []).map((v) => [v.name ?? "", v]));
  for (const name of session.inputNames) {
    if (name === "input_ids") feeds[name] = new ort.Tensor("int64", BigInt64Array.from(ids, BigInt), [1, T]);
    else if (name === "attention_mask") feeds[name] = new ort.Tensor("int64", new BigInt64Array(T).fill(1n), [1, T]);
    else if (name === "position_ids")
      feeds[name] = new ort.Tensor(
        "int64",
        BigInt64Array.from(ids, (_, i) => BigInt(i)),
        [1, T],
      );
    else if (name.startsWith("past_key_values.")) {
      const dims = declared.get(name)?.type?.tensorType?.shape?.dim ?? [];
      if (dims.length !== 4 || !dims[1].dimValue || !dims[3].dimValue) {
        throw new Error(`input ${name}: expected [batch, kv_heads, past, head_dim] with fixed heads and head_dim`);
      }
      feeds[name] = new ort.Tensor("float32", new Float32Array(0), [1, dims[1].dimValue, 0, dims[3].dimValue]);
    } else {
      throw new Error(`model input "${name}" is not part of the decoder layout (docs/decoder.md)`);
    }
  }
  return feeds;
}

/**
 * Runs calibration sequences through an instrumented copy of the model (a file, or a model in
 * memory, which is left unchanged) and returns per-tap statistics. onnxruntime only evaluates the
 * nodes the requested statistics depend on, so taps early in the graph cost a partial forward.
 */
export async function captureActivations(
  source: string | ModelProto,
  taps: readonly Tap[],
  sequences: readonly (readonly number[])[],
  opts: CaptureOptions,
): Promise<Map<string, TapStats>> {
  if (sequences.length === 0) throw new Error("calibration needs at least one sequence");
  const model = typeof source === "string" ? readModel(source) : shallowCopy(source);
  if (typeof source !== "string") {
    // Tensors a lazily read model left on disk are loaded into the copy (the copy has no model directory).
    const inits = model.graph?.initializer ?? [];
    inits.forEach((t, i) => {
      if (t.dataLocation === DataLocation.EXTERNAL) {
        const v = getInitializer(source, t.name ?? "");
        inits[i] = makeTensor(v.name, v.dims, v.data, v.dataType);
      }
    });
  }
  const names = instrumentTaps(model, taps, opts.gram);
  const file = inMemory(model, opts.inMemoryBytes) ? null : path.join(opts.scratchDir, `calibration-${process.pid}-${Date.now()}.onnx`);
  if (file) {
    fs.mkdirSync(opts.scratchDir, { recursive: true });
    writeModel(model, file);
  }
  const stats = new Map<string, TapStats>();
  for (const tap of taps) {
    if (stats.has(tap.name)) continue;
    stats.set(tap.name, {
      name: tap.name,
      k: tap.k,
      tokens: 0,
      sumAbs: new Float64Array(tap.k),
      maxAbs: new Float64Array(tap.k),
      gram: opts.gram ? new Float64Array(tap.k * tap.k) : null,
    });
  }
  let session: ort.InferenceSession | null = null;
  try {
    session = await (file ? ort.InferenceSession.create(file) : ort.InferenceSession.create(encodeModel(model)));
    const fetches = [...names.values()].flatMap((n) => [n.sumAbs, n.maxAbs, ...(n.gram ? [n.gram] : [])]);
    for (let s = 0; s < sequences.length; s++) {
      const out = await session.run(decoderFeeds(session, model, sequences[s]), fetches);
      for (const [tapName, n] of names) {
        const st = stats.get(tapName)!;
        st.tokens += sequences[s].length;
        const sa = out[n.sumAbs].data as Float32Array;
        const ma = out[n.maxAbs].data as Float32Array;
        if (sa.length !== st.k) throw new Error(`tap ${tapName}: expected ${st.k} channels, got ${sa.length}`);
        for (let j = 0; j < st.k; j++) {
          st.sumAbs[j] += sa[j];
          if (ma[j] > st.maxAbs[j]) st.maxAbs[j] = ma[j];
        }
        if (n.gram && st.gram) {
          const g = out[n.gram].data as Float32Array;
          for (let j = 0; j < g.length; j++) st.gram[j] += g[j];
        }
      }
      opts.onProgress?.(s + 1, sequences.length);
    }
  } finally {
    await session?.release();
    if (file) {
      fs.rmSync(file, { force: true });
      fs.rmSync(`${file}.data`, { force: true });
    }
  }
  return stats;
}

/** Instrumented models up to this many bytes of initializers reach onnxruntime as bytes in memory. */
export const IN_MEMORY_CAPTURE_BYTES = 2 ** 30;

/**
 * Whether the instrumented model can be handed to onnxruntime as an encoded buffer: every tensor
 * in memory (none left in external data) and small enough for one protobuf. Sequential GPTQ
 * instruments the model once per layer; in memory, a pass costs one encoding instead of writing
 * and re-reading a full model copy on disk.
 */
export function inMemory(model: ModelProto, limit = IN_MEMORY_CAPTURE_BYTES): boolean {
  const inits = model.graph?.initializer ?? [];
  return !inits.some((t) => t.dataLocation === DataLocation.EXTERNAL) && initializerBytes(model) <= limit;
}

/** A copy whose node, output and initializer lists can grow without touching the original's. */
function shallowCopy(model: ModelProto): ModelProto {
  const g = model.graph ?? {};
  return { ...model, graph: { ...g, node: [...(g.node ?? [])], output: [...(g.output ?? [])], initializer: [...(g.initializer ?? [])] } };
}

/** Mean |x_j| per channel. */
export function meanAbs(st: TapStats): Float64Array {
  return st.sumAbs.map((v) => v / Math.max(1, st.tokens));
}

/** Logits [T * vocab] of one sequence under the decoder layout, for equivalence checks. */
export async function sequenceLogits(modelPath: string, ids: readonly number[], options: ort.InferenceSession.SessionOptions = {}): Promise<Float32Array> {
  const model = readModel(modelPath, { loadExternalData: false });
  const session = await ort.InferenceSession.create(modelPath, options);
  try {
    const out = await session.run(decoderFeeds(session, model, ids), ["logits"]);
    return out.logits.data as Float32Array;
  } finally {
    await session.release();
  }
}
