/**
 * What the unstructured pruners (magnitude, Wanda, SparseGPT) share: the linears they prune, the
 * layer-sequential calibration loop, writing the pruned float model, and the sparsity metrics
 * measured on the saved file.
 *
 * Pruned weights stay in the float model (zeros in dense MatMul initializers): the file keeps its
 * size and onnxruntime's kernels multiply the zeros like any other value.
 */
import type { ModelProto } from "../../onnx/model-io";
import { DataType, getInitializer, readModel, type Initializer } from "../../onnx/model-io";
import { captureActivations, type TapStats } from "../calibration";
import { calibrationSeqLen, isOutputHead, writeRunModel } from "../quantization/driver";
import { quantizableLinears, readRowWeight, writeRowWeight, type LinearTarget } from "../quantization/emit";
import { layerBlocks } from "../quantization/gptq";
import type { MethodContext, MethodResult } from "../types";
import { checkNM, nmOf, type SparsityPattern } from "./masks";

export interface PruneTargets {
  model: ModelProto;
  targets: LinearTarget[];
  notes: string[];
}

/**
 * The float32 linears of the decoder layers. The output head (the linear producing the logits, or
 * a head tied to the embedding), the embedding and the norms stay dense, as in the Wanda and
 * SparseGPT reference code, which prunes only the linears inside the decoder layers.
 */
export function loadPruneTargets(modelPath: string, pattern: SparsityPattern): PruneTargets {
  const model = readModel(modelPath);
  const { targets, skipped } = quantizableLinears(model);
  const head = targets.filter((t) => isOutputHead(model, t));
  const chosen = targets.filter((t) => !head.includes(t));
  if (chosen.length === 0) throw new Error("the model has no float32 linear weights to prune outside the output head");
  const nm = nmOf(pattern);
  if (nm) for (const t of chosen) checkNM(t.k, nm, `${t.weightName} (K = ${t.k})`);
  const notes: string[] = [];
  notes.push(
    `left dense: the embedding, the norms and the output head${head.length ? ` (${head.map((t) => t.weightName).join(", ")})` : ""}, as the reference code prunes only the decoder layers' linears`,
  );
  if (skipped.length) notes.push(`not pruned: ${skipped.join(", ")}`);
  return { model, targets: chosen, notes };
}

/** Notes on what `pattern` with `sparsity` means. */
export function patternNotes(pattern: SparsityPattern, sparsity: number): string[] {
  const nm = nmOf(pattern);
  if (!nm) return [];
  const fixed = nm.n / nm.m;
  return sparsity === fixed ? [] : [`pattern ${pattern} fixes the sparsity at ${fixed}: the sparsity param (${sparsity}) is not used`];
}

export interface SequentialPass {
  block: number;
  blocks: number;
  targets: LinearTarget[];
  stats: Map<string, TapStats>;
}

/**
 * Linears of one decoder layer split into groups reading the same input, in graph order: q/k/v,
 * then o, then gate/up, then down in a Llama layer, the reference's "true sequential" groups.
 */
export function inputGroups(block: readonly LinearTarget[]): LinearTarget[][] {
  const groups = new Map<string, LinearTarget[]>();
  for (const t of [...block].sort((a, b) => a.nodeIndex - b.nodeIndex)) {
    const g = groups.get(t.input);
    if (g) g.push(t);
    else groups.set(t.input, [t]);
  }
  return [...groups.values()];
}

/**
 * The references' layer-sequential order: decoder layers in graph order, each calibrated on the
 * model with every earlier layer already pruned (`model` is pruned in place as the callback goes),
 * all linears of a layer seeing the layer's still-dense activations. With `trueSequential`, each
 * layer is taken in groups of linears sharing an input (`inputGroups`), each group calibrated
 * after the earlier groups of its layer are pruned. `prune` returns each target's new rows [N, K],
 * written into `model`.
 */
export async function pruneSequential(
  ctx: MethodContext,
  model: ModelProto,
  targets: readonly LinearTarget[],
  samples: number,
  gram: boolean,
  prune: (target: LinearTarget, weight: Float32Array, stats: TapStats) => Float32Array,
  trueSequential = false,
): Promise<{ sequences: number; tokens: number; blocks: number; passes: number }> {
  ctx.reporter.stage("calibrate");
  const batches = await ctx.calibrationBatches(samples, calibrationSeqLen(ctx));
  const layers = layerBlocks(targets);
  const blocks = trueSequential ? layers.flatMap(inputGroups) : layers;
  for (let b = 0; b < blocks.length; b++) {
    ctx.reporter.stage(`prune ${b + 1}/${blocks.length}`);
    const block = blocks[b];
    const stats = await captureActivations(
      model,
      block.map((t) => ({ name: t.input, k: t.k })),
      batches,
      { gram, scratchDir: ctx.workDir },
    );
    const pruned = block.map((t) => {
      const st = stats.get(t.input);
      if (!st) throw new Error(`no calibration statistics for ${t.input}`);
      return prune(t, readRowWeight(model, t), st);
    });
    block.forEach((t, i) => writeRowWeight(model, t, pruned[i]));
    ctx.reporter.progress(0.4 + 0.05 * ((b + 1) / blocks.length));
  }
  return { sequences: batches.length, tokens: batches.reduce((a, s) => a + s.length, 0), blocks: layers.length, passes: blocks.length };
}

const FLOAT_TYPES: ReadonlySet<number> = new Set([DataType.FLOAT, DataType.DOUBLE, DataType.FLOAT16, DataType.BFLOAT16]);
const ROTARY = /rotary|(?:^|[._/])(?:cos|sin)(?:_cached|_cache)?(?:$|[._/])|inv_freq/i;

export interface ParameterCount {
  total: number;
  nonzero: number;
}

/**
 * Parameters of a model: the elements of every floating-point initializer with at least 2
 * elements (weights, embeddings, norms, biases), except rotary cos/sin tables, which are
 * precomputed rather than learned. On the zoo and shape decoders this is the config's parameter
 * count exactly.
 */
export function parameterCount(model: ModelProto): ParameterCount {
  let total = 0;
  let nonzero = 0;
  for (const t of model.graph?.initializer ?? []) {
    const name = t.name ?? "";
    const type = t.dataType ?? 0;
    if (ROTARY.test(name)) continue;
    if (!FLOAT_TYPES.has(type)) continue;
    const count = (t.dims ?? []).reduce((p, d) => p * Number(d), 1);
    if (count < 2) continue;
    total += count;
    nonzero += count - zerosIn(model, name);
  }
  return { total, nonzero };
}

function zerosIn(model: ModelProto, name: string): number {
  return zerosOf(getInitializer(model, name));
}

function zerosOf(init: Initializer): number {
  let zeros = 0;
  if (init.dataType === DataType.FLOAT16 || init.dataType === DataType.BFLOAT16) {
    const d = init.data as Uint16Array;
    for (let i = 0; i < d.length; i++) if ((d[i] & 0x7fff) === 0) zeros++;
  } else {
    const d = init.data as Float32Array | Float64Array;
    for (let i = 0; i < d.length; i++) if (d[i] === 0) zeros++;
  }
  return zeros;
}

export interface SparsityMeasure {
  /** Zeros / weights over the pruned linears. */
  sparsity: number;
  prunedWeights: number;
  zeros: number;
  overall: ParameterCount;
}

/** Sparsity of `weightNames` and the whole model's parameter count, read from a saved model file. */
export function measureSparsity(modelPath: string, weightNames: readonly string[]): SparsityMeasure {
  const saved = readModel(modelPath);
  let weights = 0;
  let zeros = 0;
  for (const name of weightNames) {
    const init = getInitializer(saved, name);
    weights += init.data.length;
    zeros += zerosOf(init);
  }
  return { sparsity: weights ? zeros / weights : 0, prunedWeights: weights, zeros, overall: parameterCount(saved) };
}

/** Writes the pruned model, re-reads it and returns the run's result with the measured sparsity. */
export function pruneResult(ctx: MethodContext, model: ModelProto, targets: readonly LinearTarget[], notes: string[]): MethodResult {
  ctx.reporter.stage("write");
  const written = writeRunModel(ctx, model);
  const m = measureSparsity(
    written.path,
    targets.map((t) => t.weightName),
  );
  return {
    modelPath: written.path,
    metrics: {
      sparsity: m.sparsity,
      sparsity_overall: m.overall.total ? 1 - m.overall.nonzero / m.overall.total : 0,
      params_remaining: m.overall.nonzero,
    },
    artifacts: written.artifacts,
    notes: [
      ...notes,
      `${targets.length} linear layers pruned: ${m.zeros} of ${m.prunedWeights} weights are zero in the saved model (sparsity ${m.sparsity.toFixed(4)}); ${m.overall.nonzero} of ${m.overall.total} model parameters nonzero`,
      "zeros are stored in dense float32 MatMul weights: the file does not shrink and no speedup is implied. The measured speedup is reported; onnxruntime's CPU provider has no sparse or 2:4 kernel for MatMul (sparse initializers are densified when a session loads them)",
    ],
  };
}
