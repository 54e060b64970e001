/**
 * AWQ's block-output loss (llm-awq `auto_scale`, module2inspect): the scale of linears fed by a norm
 * (q/k/v, gate/up) is judged by the output of the whole block they feed (attention up to o_proj's
 * output, the MLP up to down_proj's output), not by their own outputs.
 *
 * The block is the model's own graph: the nodes that compute the block output from the norm output,
 * cut out into a small ONNX model whose inputs are the norm output, the decoder inputs the block
 * needs (positions for rotary, the mask, an empty KV cache) and the weights of the linears being
 * searched, so one onnxruntime session scores every candidate exactly as the model computes it.
 */
import fs from "node:fs";
import path from "node:path";
import * as ort from "onnxruntime-node";
import {
  DataType,
  encodeModel,
  findLinearWeights,
  writeModel,
  type ModelProto,
  type NodeProto,
  type TensorProto,
  type ValueInfoProto,
} from "../../onnx/model-io";
import type { LinearGroup } from "./fold";
import { transpose } from "./quant-math";

const floatInfo = (name: string, dims?: number[]): ValueInfoProto => ({
  name,
  type: { tensorType: { elemType: DataType.FLOAT, ...(dims ? { shape: { dim: dims.map((d) => ({ dimValue: d })) } } : {}) } },
});

/**
 * The tensor a group's block ends in: the output of the first linear (in graph order) that every
 * member's output reaches and that is not a member itself, e.g. o_proj for q/k/v, down_proj for
 * gate/up. Null when there is none (the output head).
 */
export function findBlockOutput(model: ModelProto, group: LinearGroup): string | null {
  const nodes = model.graph?.node ?? [];
  const consumers = new Map<string, number[]>();
  nodes.forEach((node, i) => {
    for (const t of node.input ?? []) {
      const list = consumers.get(t);
      if (list) list.push(i);
      else consumers.set(t, [i]);
    }
  });
  const reached = (start: NodeProto): Set<number> => {
    const seen = new Set<number>();
    const stack = [...(start.output ?? [])];
    while (stack.length) {
      for (const i of consumers.get(stack.pop()!) ?? []) {
        if (seen.has(i)) continue;
        seen.add(i);
        stack.push(...(nodes[i].output ?? []));
      }
    }
    return seen;
  };
  const sets = group.members.map((m) => reached(m.node));
  const members = new Set(group.members.map((m) => m.node));
  const linear = findLinearWeights(model)
    .map((l) => nodes.indexOf(l.node))
    .filter((i) => i >= 0 && !members.has(nodes[i]) && sets.every((s) => s.has(i)))
    .sort((a, b) => a - b)[0];
  return linear === undefined ? null : (nodes[linear].output?.[0] ?? null);
}

export interface BlockGraph {
  model: ModelProto;
  /** Decoder inputs the block reads (position_ids, attention_mask, ...). */
  decoderInputs: string[];
}

/**
 * Cuts out the nodes computing `output` from the group's input. The members' weights become graph
 * inputs (in their stored orientation); every other initializer stays. Returns the reason instead
 * when the block cannot be cut out (the output does not depend on every member).
 */
export function extractBlock(model: ModelProto, group: LinearGroup, output: string): BlockGraph | string {
  const graph = model.graph ?? {};
  const nodes = graph.node ?? [];
  const producer = new Map<string, number>();
  nodes.forEach((n, i) => (n.output ?? []).forEach((o) => producer.set(o, i)));
  const inits = new Map((graph.initializer ?? []).map((t) => [t.name ?? "", t]));
  const inputs = new Map((graph.input ?? []).map((v) => [v.name ?? "", v]));
  const weights = new Map(group.members.map((m) => [m.weightName, m]));
  const keep = new Set<number>();
  const usedInits = new Map<string, TensorProto>();
  const usedInputs = new Set<string>();
  const stack = [output];
  const seen = new Set<string>();
  while (stack.length) {
    const t = stack.pop()!;
    if (seen.has(t) || t === "" || t === group.input) continue;
    seen.add(t);
    if (weights.has(t)) continue;
    const init = inits.get(t);
    if (init) {
      usedInits.set(t, init);
      continue;
    }
    if (inputs.has(t)) {
      usedInputs.add(t);
      continue;
    }
    const i = producer.get(t);
    if (i === undefined) return `tensor ${t} has no producer`;
    keep.add(i);
    stack.push(...(nodes[i].input ?? []));
  }
  const kept = [...keep].sort((a, b) => a - b).map((i) => nodes[i]);
  for (const m of group.members) {
    if (!kept.includes(m.node)) return `${output} does not depend on ${m.weightName}`;
    if (m.node.input?.[1] !== m.weightName) return `${m.weightName} is not read directly by its linear`;
  }
  return {
    model: {
      irVersion: model.irVersion,
      opsetImport: model.opsetImport,
      graph: {
        name: `awq-block-${output}`,
        node: kept,
        initializer: [...usedInits.values()],
        input: [
          floatInfo(group.input),
          ...[...usedInputs].map((n) => inputs.get(n)!),
          ...group.members.map((m) => floatInfo(m.weightName, m.transposed ? [m.n, m.k] : [m.k, m.n])),
        ],
        output: [floatInfo(output)],
      },
    },
    decoderInputs: [...usedInputs],
  };
}

/**
 * Decoder-layout feeds (docs/decoder.md) for a batch of equal-length sequences starting at
 * position 0 with an empty KV cache, for the inputs in `names`.
 */
export function batchDecoderFeeds(
  names: readonly string[],
  declared: readonly ValueInfoProto[],
  seqs: readonly (readonly number[])[],
): Record<string, ort.Tensor> {
  const B = seqs.length;
  const T = seqs[0].length;
  if (seqs.some((s) => s.length !== T)) throw new Error("AWQ: calibration sequences differ in length");
  const info = new Map(declared.map((v) => [v.name ?? "", v]));
  const feeds: Record<string, ort.Tensor> = {};
  for (const name of names) {
    if (name === "input_ids") feeds[name] = new ort.Tensor("int64", BigInt64Array.from(seqs.flat(), BigInt), [B, T]);
    else if (name === "attention_mask") feeds[name] = new ort.Tensor("int64", new BigInt64Array(B * T).fill(1n), [B, T]);
    else if (name === "position_ids")
      feeds[name] = new ort.Tensor(
        "int64",
        BigInt64Array.from({ length: B * T }, (_, i) => BigInt(i % T)),
        [B, T],
      );
    else if (name.startsWith("past_key_values.")) {
      const dims = info.get(name)?.type?.tensorType?.shape?.dim ?? [];
      if (dims.length !== 4 || !dims[1].dimValue || !dims[3].dimValue) {
        throw new Error(`input ${name}: expected [batch, kv_heads, past, head_dim] with fixed heads and head_dim`);
      }
      feeds[name] = new ort.Tensor("float32", new Float32Array(0), [B, dims[1].dimValue, 0, dims[3].dimValue]);
    } else {
      throw new Error(`model input "${name}" is not part of the decoder layout (docs/decoder.md)`);
    }
  }
  return feeds;
}

/** Sequences in chunks of about `tokens` tokens each (at least one sequence per chunk). */
export function chunkSequences<T extends readonly number[]>(seqs: readonly T[], tokens: number): T[][] {
  const per = Math.max(1, Math.floor(tokens / Math.max(1, seqs[0]?.length ?? 1)));
  const out: T[][] = [];
  for (let i = 0; i < seqs.length; i += per) out.push(seqs.slice(i, i + per));
  return out;
}

/**
 * The float values of `names` (intermediate tensors of the model) for each chunk of sequences, as
 * [batch * seq * channels] arrays.
 */
export async function captureTensors(
  model: ModelProto,
  names: readonly string[],
  chunks: readonly (readonly (readonly number[])[])[],
  scratchDir: string,
): Promise<Map<string, Float32Array[]>> {
  const g = model.graph ?? {};
  const copy: ModelProto = { ...model, graph: { ...g, output: [...(g.output ?? []), ...names.map((n) => floatInfo(n))] } };
  fs.mkdirSync(scratchDir, { recursive: true });
  const file = path.join(scratchDir, `awq-capture-${process.pid}-${Date.now()}.onnx`);
  writeModel(copy, file);
  const out = new Map(names.map((n) => [n, [] as Float32Array[]]));
  let session: ort.InferenceSession | null = null;
  try {
    session = await ort.InferenceSession.create(file);
    for (const chunk of chunks) {
      const res = await session.run(batchDecoderFeeds(session.inputNames, g.input ?? [], chunk), [...names]);
      for (const n of names) out.get(n)!.push(res[n].data as Float32Array);
    }
  } finally {
    await session?.release();
    fs.rmSync(file, { force: true });
    fs.rmSync(`${file}.data`, { force: true });
  }
  return out;
}

/**
 * Scores candidate weights of a group by the block output's mean squared difference from the float
 * block output over the calibration chunks (llm-awq: (org_out - out).float().pow(2).mean()).
 */
export class BlockEvaluator {
  private reference: Float32Array[] = [];

  private constructor(
    private readonly session: ort.InferenceSession,
    private readonly group: LinearGroup,
    private readonly output: string,
    private readonly feeds: Record<string, ort.Tensor>[],
  ) {}

  /**
   * `inputs[c]` holds the group's input for chunk c ([batch, seq, K]); `floatWeights` are the
   * members' current float weights in [N, K] row layout.
   */
  static async create(
    block: BlockGraph,
    group: LinearGroup,
    declared: readonly ValueInfoProto[],
    chunks: readonly (readonly (readonly number[])[])[],
    inputs: readonly Float32Array[],
    floatWeights: readonly Float32Array[],
  ): Promise<BlockEvaluator> {
    const session = await ort.InferenceSession.create(encodeModel(block.model));
    const feeds = chunks.map((chunk, c) => ({
      ...batchDecoderFeeds(block.decoderInputs, declared, chunk),
      [group.input]: new ort.Tensor("float32", inputs[c], [chunk.length, chunk[0].length, group.k]),
    }));
    const output = block.model.graph?.output?.[0]?.name ?? "";
    const ev = new BlockEvaluator(session, group, output, feeds);
    ev.reference = await ev.outputs(floatWeights);
    return ev;
  }

  /** The block output per chunk with the members' weights replaced by `weights` ([N, K] rows). */
  async outputs(weights: readonly Float32Array[]): Promise<Float32Array[]> {
    const w: Record<string, ort.Tensor> = {};
    this.group.members.forEach((m, i) => {
      const data = m.transposed ? weights[i] : transpose(weights[i], m.n, m.k);
      w[m.weightName] = new ort.Tensor("float32", data, m.transposed ? [m.n, m.k] : [m.k, m.n]);
    });
    const out: Float32Array[] = [];
    for (const f of this.feeds) {
      const r = await this.session.run({ ...f, ...w }, [this.output]);
      out.push(r[this.output].data as Float32Array);
    }
    return out;
  }

  /** Mean squared difference of the block output from the float one. */
  async loss(weights: readonly Float32Array[]): Promise<number> {
    const got = await this.outputs(weights);
    let s = 0;
    let n = 0;
    got.forEach((o, c) => {
      const ref = this.reference[c];
      for (let i = 0; i < o.length; i++) {
        const d = o[i] - ref[i];
        s += d * d;
      }
      n += o.length;
    });
    return s / Math.max(1, n);
  }

  async release(): Promise<void> {
    await this.session.release();
  }
}
