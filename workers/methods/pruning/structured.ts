/**
 * prune.structured: FLAP (arXiv 2312.11983) structured pruning of attention heads and MLP neurons.
 *
 * One calibration pass over the dense model (the reference also takes every layer's statistics
 * from the dense model's activations) gives the per-channel mean and variance of the inputs of
 * o_proj and down_proj. A channel's fluctuation metric (WIFV) is Var(x_j)·‖W[:, j]‖², W the
 * weight reading that input; the reference squares it for attention channels. Each layer's metrics
 * are standardized per module (zero mean, unit sd), a head group scores the mean of its channels,
 * and heads and neurons are ranked globally across layers (the reference's adaptive structure).
 * Removed channels shrink the matrices physically: q/k/v columns and o_proj rows per head, gate/up
 * columns and down_proj rows per neuron; their mean contribution W[removed, :]ᵀ·mean(x_removed)
 * becomes a bias on o_proj / down_proj (the reference's bias compensation).
 *
 * GQA: a kv head goes only together with every query head that shares it (a whole group); every
 * layer keeps at least one group and one neuron.
 */
import type { z } from "zod";
import type { pruneStructured } from "../../../lib/methods/pruning";
import { readModel } from "../../onnx/model-io";
import { calibrationSeqLen, writeRunModel } from "../quantization/driver";
import { defineExecutor } from "../types";
import { channelStats, type ChannelStats } from "./activation-stats";
import {
  decoderLayers,
  paramCount,
  prunedConfig,
  pruneHeads,
  pruneNeurons,
  readWeight,
  removeDeadCode,
  setConfigMetadata,
  writeConfig,
  type LayerInfo,
} from "./surgery";
import type { ModelProto } from "../../onnx/model-io";

export type StructuredParams = z.output<typeof pruneStructured.params>;
export type StructuredTarget = StructuredParams["target"];

/** Σ over the row of a row-major [rows, cols] matrix of w², per row (‖W[:, j]‖² in the reference's [out, in] layout). */
function rowNormsSq(w: Float32Array, rows: number, cols: number): Float64Array {
  const out = new Float64Array(rows);
  for (let r = 0; r < rows; r++) {
    let s = 0;
    for (let c = 0; c < cols; c++) s += w[r * cols + c] * w[r * cols + c];
    out[r] = s;
  }
  return out;
}

/** (x - mean) / sd with the unbiased sd, as torch.std; a constant vector maps to zeros. */
export function standardize(x: ArrayLike<number>): Float64Array {
  const n = x.length;
  let mean = 0;
  for (let i = 0; i < n; i++) mean += x[i];
  mean /= n;
  let ss = 0;
  for (let i = 0; i < n; i++) ss += (x[i] - mean) ** 2;
  const sd = n > 1 ? Math.sqrt(ss / (n - 1)) : 0;
  return Float64Array.from({ length: n }, (_, i) => (sd > 0 ? (x[i] - mean) / sd : 0));
}

export interface LayerScores {
  /** One score per kv group (its query heads' channels averaged). */
  groups: Float64Array;
  /** One score per MLP neuron. */
  neurons: Float64Array;
}

/** FLAP's standardized WIFV scores of one layer's head groups and neurons. */
export function layerScores(model: ModelProto, layer: LayerInfo, attn: ChannelStats, mlp: ChannelStats): LayerScores {
  const { numHeads, numKvHeads, headDim: D } = layer;
  const o = layer.linears.o;
  const down = layer.linears.down;
  const oNorm = rowNormsSq(readWeight(model, o), o.k, o.n);
  const dNorm = rowNormsSq(readWeight(model, down), down.k, down.n);
  const attnMetric = standardize(Float64Array.from(oNorm, (n, j) => (attn.variance[j] * n) ** 2));
  const mlpMetric = standardize(Float64Array.from(dNorm, (n, j) => mlp.variance[j] * n));
  const per = (numHeads / numKvHeads) * D;
  const groups = Float64Array.from({ length: numKvHeads }, (_, g) => {
    let s = 0;
    for (let c = g * per; c < (g + 1) * per; c++) s += attnMetric[c];
    return s / per;
  });
  return { groups, neurons: mlpMetric };
}

export interface Selection {
  /** Per layer, the kv groups and neurons kept (ascending). */
  keepGroups: number[][];
  keepNeurons: number[][];
}

interface Candidate {
  layer: number;
  kind: "group" | "neuron";
  index: number;
  score: number;
  cost: number;
}

/**
 * Which groups and neurons to remove: candidates of the targeted kinds in ascending score, removed
 * until `ratio` of the targeted parameters is gone (the closest cumulative cost, the reference's
 * threshold rule), skipping any whose removal would empty its layer's heads or neurons.
 * Parameter costs: a group of r query heads is (2r + 2)·head_dim·hidden weights (q, k, v, o), a
 * neuron 3·hidden (gate, up, down): 512/3 relative cost per head in the reference's MHA at head_dim 128.
 */
export function selectStructure(layers: readonly LayerInfo[], scores: readonly LayerScores[], target: StructuredTarget, ratio: number): Selection {
  if (!(ratio > 0 && ratio < 1)) throw new Error(`ratio must be in (0, 1), got ${ratio}`);
  const candidates: Candidate[] = [];
  layers.forEach((layer, l) => {
    const hidden = layer.linears.q.k;
    const rep = layer.numHeads / layer.numKvHeads;
    if (target !== "neurons") {
      scores[l].groups.forEach((score, index) => candidates.push({ layer: l, kind: "group", index, score, cost: (2 * rep + 2) * layer.headDim * hidden }));
    }
    if (target !== "heads") {
      scores[l].neurons.forEach((score, index) => candidates.push({ layer: l, kind: "neuron", index, score, cost: 3 * hidden }));
    }
  });
  candidates.sort((a, b) => a.score - b.score || a.layer - b.layer || a.index - b.index);
  const total = candidates.reduce((s, c) => s + c.cost, 0);
  const goal = ratio * total;
  const left = layers.map((l) => ({ group: l.numKvHeads, neuron: l.intermediate }));
  const removed = new Set<Candidate>();
  let cut = 0;
  for (const c of candidates) {
    if (left[c.layer][c.kind] <= 1) continue;
    if (Math.abs(cut + c.cost - goal) >= Math.abs(cut - goal)) break;
    removed.add(c);
    cut += c.cost;
    left[c.layer][c.kind]--;
  }
  const keep = (l: number, kind: Candidate["kind"], n: number) => {
    const gone = new Set([...removed].filter((c) => c.layer === l && c.kind === kind).map((c) => c.index));
    return Array.from({ length: n }, (_, i) => i).filter((i) => !gone.has(i));
  };
  return {
    keepGroups: layers.map((layer, l) => keep(l, "group", layer.numKvHeads)),
    keepNeurons: layers.map((layer, l) => keep(l, "neuron", layer.intermediate)),
  };
}

export interface StructuredOutcome {
  model: ModelProto;
  layers: LayerInfo[];
  selection: Selection;
  paramsDense: number;
  paramsRemaining: number;
  headsRemoved: number;
  neuronsRemoved: number;
}

/**
 * FLAP on a model in memory (edited in place): statistics from `sequences`, selection, surgery.
 * `bias: false` skips the compensation (for comparisons).
 */
export async function pruneStructuredModel(
  model: ModelProto,
  sequences: readonly (readonly number[])[],
  p: { target: StructuredTarget; ratio: number; bias?: boolean },
  onProgress?: (done: number, total: number) => void,
): Promise<StructuredOutcome> {
  const layers = decoderLayers(model);
  const paramsDense = paramCount(model);
  const taps = new Map<string, number>();
  for (const l of layers) {
    taps.set(l.linears.o.node.input![0], l.linears.o.k);
    taps.set(l.linears.down.node.input![0], l.linears.down.k);
  }
  const stats = await channelStats(model, taps, sequences, onProgress);
  const scores = layers.map((l) => layerScores(model, l, stats.get(l.linears.o.node.input![0])!, stats.get(l.linears.down.node.input![0])!));
  const selection = selectStructure(layers, scores, p.target, p.ratio);
  let headsRemoved = 0;
  let neuronsRemoved = 0;
  layers.forEach((layer, l) => {
    const attn = stats.get(layer.linears.o.node.input![0])!;
    const mlp = stats.get(layer.linears.down.node.input![0])!;
    const heads = layer.numHeads;
    const inter = layer.intermediate;
    pruneHeads(model, layer, { keepGroups: selection.keepGroups[l], mean: p.bias === false ? null : attn.mean });
    pruneNeurons(model, layer, selection.keepNeurons[l], p.bias === false ? null : mlp.mean);
    headsRemoved += heads - layer.numHeads;
    neuronsRemoved += inter - layer.intermediate;
  });
  removeDeadCode(model);
  return { model, layers, selection, paramsDense, paramsRemaining: paramCount(model), headsRemoved, neuronsRemoved };
}

export default defineExecutor<StructuredParams>({
  id: "prune.structured",
  async run(ctx, p) {
    const model = readModel(ctx.modelPath);
    // Checks the layout before any calibration is spent.
    const before = decoderLayers(model).map((l) => ({ heads: l.numHeads, kv: l.numKvHeads, inter: l.intermediate }));
    ctx.reporter.stage("calibrate");
    const batches = await ctx.calibrationBatches(p.calib_samples, calibrationSeqLen(ctx));
    ctx.reporter.stage("prune");
    const out = await pruneStructuredModel(model, batches, { target: p.target, ratio: p.ratio }, (d, n) => ctx.reporter.progress(0.4 + 0.04 * (d / n)));
    ctx.reporter.stage("write");
    const config = prunedConfig(ctx.modelPath, model, out.layers);
    setConfigMetadata(model, config);
    const written = writeRunModel(ctx, model);
    writeConfig(written.path, config);
    const perLayer = out.layers.map(
      (l, i) => `${i}: heads ${before[i].heads}->${l.numHeads} (kv ${before[i].kv}->${l.numKvHeads}), neurons ${before[i].inter}->${l.intermediate}`,
    );
    return {
      modelPath: written.path,
      metrics: {
        params_remaining: out.paramsRemaining,
        sparsity_overall: 1 - out.paramsRemaining / out.paramsDense,
        heads_removed: out.headsRemoved,
        neurons_removed: out.neuronsRemoved,
      },
      artifacts: written.artifacts,
      notes: [
        `FLAP: target ${p.target}, ratio ${p.ratio} of the targeted parameters; WIFV scores (attention squared), standardized per layer and module, ranked across layers; ` +
          `${batches.length} calibration sequences x ${batches[0].length} tokens from the dense model`,
        `removed ${out.headsRemoved} query heads (whole kv groups) and ${out.neuronsRemoved} MLP neurons; compensation biases on o_proj / down_proj outputs`,
        `parameters ${out.paramsDense} -> ${out.paramsRemaining} (float32 *.weight and *.bias initializers)`,
        `per layer: ${perLayer.join("; ")}`,
      ],
    };
  },
});
