/**
 * Calibration statistics the structural pruners need, reduced inside the graph so only small
 * summaries cross to JavaScript per sequence (the same instrumentation idea as
 * workers/methods/calibration.ts, with other reductions):
 *  - per-channel Σx and Σx² of a tensor (FLAP's mean and variance of a linear's input);
 *  - per-token cosine similarity of two tensors of the residual stream (ShortGPT's block influence).
 * Accumulation across sequences is in float64.
 */
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import * as ort from "onnxruntime-node";
import {
  attr,
  DataType,
  encodeModel,
  getOpsetVersion,
  makeNode,
  readModel,
  setInitializer,
  writeModel,
  type ModelProto,
  type ValueInfoProto,
} from "../../onnx/model-io";
import { decoderFeeds, inMemory } from "../calibration";

export interface ChannelStats {
  tokens: number;
  mean: Float64Array;
  /** Population variance over calibration tokens. */
  variance: Float64Array;
}

const safe = (name: string) => name.replace(/[^A-Za-z0-9_.]/g, "_");
const floatOut = (name: string): ValueInfoProto => ({ name, type: { tensorType: { elemType: DataType.FLOAT } } });

function copy(model: ModelProto): ModelProto {
  const g = model.graph ?? {};
  return { ...model, graph: { ...g, node: [...(g.node ?? [])], output: [...(g.output ?? [])], initializer: [...(g.initializer ?? [])] } };
}

function reduce(model: ModelProto, op: "ReduceSum", input: string, axes: number[], output: string, keepdims = 0) {
  const opset = getOpsetVersion(model, "") ?? 13;
  const axesName = `${output}/axes`;
  if (opset >= 13) {
    setInitializer(model, axesName, [axes.length], BigInt64Array.from(axes.map(BigInt)));
    return makeNode(op, [input, axesName], [output], [attr.int("keepdims", keepdims)]);
  }
  return makeNode(op, [input], [output], [attr.ints("axes", axes), attr.int("keepdims", keepdims)]);
}

async function runAll(
  model: ModelProto,
  sequences: readonly (readonly number[])[],
  fetches: string[],
  each: (out: Record<string, ort.Tensor>, tokens: number) => void,
  onProgress?: (done: number, total: number) => void,
  inMemoryBytes?: number,
): Promise<void> {
  if (sequences.length === 0) throw new Error("calibration needs at least one sequence");
  // Models past what one protobuf in memory should carry go to onnxruntime through a scratch file.
  const scratch = inMemory(model, inMemoryBytes) ? null : fs.mkdtempSync(path.join(os.tmpdir(), "frontier-prune-stats-"));
  const file = scratch ? path.join(scratch, "model.onnx") : null;
  if (file) writeModel(model, file);
  const session = await (file ? ort.InferenceSession.create(file) : ort.InferenceSession.create(encodeModel(model)));
  try {
    for (let s = 0; s < sequences.length; s++) {
      each(await session.run(decoderFeeds(session, model, sequences[s]), fetches), sequences[s].length);
      onProgress?.(s + 1, sequences.length);
    }
  } finally {
    await session.release();
    if (scratch) fs.rmSync(scratch, { recursive: true, force: true });
  }
}

/** Per-channel mean and variance of each tensor in `taps` (name -> channels) over the calibration tokens. */
export async function channelStats(
  source: string | ModelProto,
  taps: ReadonlyMap<string, number>,
  sequences: readonly (readonly number[])[],
  onProgress?: (done: number, total: number) => void,
  /** Instrumented models with more initializer bytes go to onnxruntime through a scratch file (default: calibration.ts's limit). */
  inMemoryBytes?: number,
): Promise<Map<string, ChannelStats>> {
  const model = copy(typeof source === "string" ? readModel(source) : source);
  const nodes = model.graph!.node!;
  const fetch = new Map<string, { sum: string; sq: string; k: number }>();
  for (const [name, k] of taps) {
    const p = `prune_stats/${safe(name)}`;
    setInitializer(model, `${p}/shape`, [2], new BigInt64Array([-1n, BigInt(k)]));
    nodes.push(makeNode("Reshape", [name, `${p}/shape`], [`${p}/flat`]));
    nodes.push(makeNode("Mul", [`${p}/flat`, `${p}/flat`], [`${p}/x2`]));
    nodes.push(reduce(model, "ReduceSum", `${p}/flat`, [0], `${p}/sum`));
    nodes.push(reduce(model, "ReduceSum", `${p}/x2`, [0], `${p}/sq`));
    model.graph!.output!.push(floatOut(`${p}/sum`), floatOut(`${p}/sq`));
    fetch.set(name, { sum: `${p}/sum`, sq: `${p}/sq`, k });
  }
  const acc = new Map([...fetch].map(([name, f]) => [name, { sum: new Float64Array(f.k), sq: new Float64Array(f.k) }]));
  let tokens = 0;
  await runAll(
    model,
    sequences,
    [...fetch.values()].flatMap((f) => [f.sum, f.sq]),
    (out, t) => {
      tokens += t;
      for (const [name, f] of fetch) {
        const a = acc.get(name)!;
        const s = out[f.sum].data as Float32Array;
        const q = out[f.sq].data as Float32Array;
        if (s.length !== f.k) throw new Error(`${name}: expected ${f.k} channels, got ${s.length}`);
        for (let j = 0; j < f.k; j++) {
          a.sum[j] += s[j];
          a.sq[j] += q[j];
        }
      }
    },
    onProgress,
    inMemoryBytes,
  );
  const result = new Map<string, ChannelStats>();
  for (const [name, a] of acc) {
    const mean = a.sum.map((v) => v / tokens);
    const variance = a.sq.map((v, j) => Math.max(0, v / tokens - mean[j] * mean[j]));
    result.set(name, { tokens, mean, variance });
  }
  return result;
}

/**
 * ShortGPT's block influence of each (input, output) pair of residual-stream tensors: the mean over
 * calibration tokens of 1 - cos(input_t, output_t).
 */
export async function blockInfluence(
  source: string | ModelProto,
  pairs: readonly { input: string; output: string }[],
  sequences: readonly (readonly number[])[],
  onProgress?: (done: number, total: number) => void,
): Promise<number[]> {
  const model = copy(typeof source === "string" ? readModel(source) : source);
  const nodes = model.graph!.node!;
  const fetches = pairs.map(({ input, output }, i) => {
    const p = `prune_bi/${i}`;
    nodes.push(makeNode("Mul", [input, output], [`${p}/ab`]));
    nodes.push(makeNode("Mul", [input, input], [`${p}/aa`]));
    nodes.push(makeNode("Mul", [output, output], [`${p}/bb`]));
    nodes.push(reduce(model, "ReduceSum", `${p}/ab`, [-1], `${p}/dot`));
    nodes.push(reduce(model, "ReduceSum", `${p}/aa`, [-1], `${p}/na`));
    nodes.push(reduce(model, "ReduceSum", `${p}/bb`, [-1], `${p}/nb`));
    model.graph!.output!.push(floatOut(`${p}/dot`), floatOut(`${p}/na`), floatOut(`${p}/nb`));
    return { dot: `${p}/dot`, na: `${p}/na`, nb: `${p}/nb` };
  });
  const sums = new Float64Array(pairs.length);
  let tokens = 0;
  await runAll(
    model,
    sequences,
    fetches.flatMap((f) => [f.dot, f.na, f.nb]),
    (out, t) => {
      tokens += t;
      fetches.forEach((f, i) => {
        const dot = out[f.dot].data as Float32Array;
        const na = out[f.na].data as Float32Array;
        const nb = out[f.nb].data as Float32Array;
        if (dot.length !== t) throw new Error(`block influence: expected ${t} tokens, got ${dot.length}`);
        for (let j = 0; j < t; j++) {
          const denom = Math.sqrt(na[j]) * Math.sqrt(nb[j]);
          sums[i] += 1 - (denom > 0 ? dot[j] / denom : 1);
        }
      });
    },
    onProgress,
  );
  return Array.from(sums, (s) => s / tokens);
}
