/**
 * prune.layer-drop: ShortGPT (arXiv 2403.03853) layer removal.
 *
 * Block influence BI_i = mean over calibration tokens of 1 - cos(h_i, h_{i+1}), h_i the residual
 * stream entering block i and h_L the last block's output before the final norm. The `layers`
 * blocks of lowest BI are removed (criterion "block-influence"), or the last ones ("last", no
 * calibration). The residual stream skips a removed block, its cache inputs and outputs go, and the
 * remaining layers' past_key_values / present tensors are renumbered 0..L'-1, so the model keeps
 * the decoder-with-past layout every runtime path expects.
 */
import type { z } from "zod";
import type { pruneLayerDrop } from "../../../lib/methods/pruning";
import { readModel, type ModelProto } from "../../onnx/model-io";
import { calibrationSeqLen, writeRunModel } from "../quantization/driver";
import { defineExecutor } from "../types";
import { blockInfluence } from "./activation-stats";
import { decoderLayers, dropLayers, paramCount, prunedConfig, setConfigMetadata, writeConfig, type LayerInfo } from "./surgery";

export type LayerDropParams = z.output<typeof pruneLayerDrop.params>;

/** The residual-stream pairs (h_i, h_{i+1}) of every block. */
export function blockPairs(layers: readonly LayerInfo[]): { input: string; output: string }[] {
  return layers.map((l) => ({ input: l.residualIn, output: l.residualOut }));
}

/** The `count` blocks of lowest influence (ties: the later block), ascending index. */
export function lowestInfluence(bi: readonly number[], count: number): number[] {
  const order = bi.map((v, i) => ({ v, i })).sort((a, b) => a.v - b.v || b.i - a.i);
  return order
    .slice(0, count)
    .map((o) => o.i)
    .sort((a, b) => a - b);
}

export interface LayerDropOutcome {
  model: ModelProto;
  layers: LayerInfo[];
  dropped: number[];
  influence: number[] | null;
  paramsDense: number;
  paramsRemaining: number;
}

/** ShortGPT on a model in memory (edited in place). `sequences` is needed for block-influence only. */
export async function dropModelLayers(
  model: ModelProto,
  p: { layers: number; criterion: LayerDropParams["criterion"] },
  sequences: readonly (readonly number[])[] | null,
): Promise<LayerDropOutcome> {
  const layers = decoderLayers(model);
  if (p.layers >= layers.length) {
    throw new Error(`layers: removing ${p.layers} of the model's ${layers.length} decoder layers would leave none; choose at most ${layers.length - 1}`);
  }
  const paramsDense = paramCount(model);
  let influence: number[] | null = null;
  let dropped: number[];
  if (p.criterion === "block-influence") {
    if (!sequences) throw new Error("block-influence needs calibration sequences");
    influence = await blockInfluence(model, blockPairs(layers), sequences);
    dropped = lowestInfluence(influence, p.layers);
  } else {
    dropped = Array.from({ length: p.layers }, (_, j) => layers.length - p.layers + j);
  }
  dropLayers(model, layers, dropped);
  const kept = layers.filter((l) => !dropped.includes(l.index));
  return { model, layers: kept, dropped, influence, paramsDense, paramsRemaining: paramCount(model) };
}

export default defineExecutor<LayerDropParams>({
  id: "prune.layer-drop",
  async run(ctx, p) {
    const model = readModel(ctx.modelPath);
    const count = decoderLayers(model).length;
    if (p.layers >= count) throw new Error(`layers: removing ${p.layers} of the model's ${count} decoder layers would leave none; choose at most ${count - 1}`);
    let batches: number[][] | null = null;
    if (p.criterion === "block-influence") {
      ctx.reporter.stage("calibrate");
      batches = await ctx.calibrationBatches(p.calib_samples, calibrationSeqLen(ctx));
    }
    ctx.reporter.stage("prune");
    const out = await dropModelLayers(model, p, batches);
    ctx.reporter.stage("write");
    const config = prunedConfig(ctx.modelPath, model, out.layers);
    setConfigMetadata(model, config);
    const written = writeRunModel(ctx, model);
    writeConfig(written.path, config);
    const notes = [
      p.criterion === "block-influence"
        ? `ShortGPT: removed the ${p.layers} block(s) of lowest block influence (1 - cos of the residual stream before and after each block), ${batches!.length} calibration sequences x ${batches![0].length} tokens`
        : `removed the last ${p.layers} block(s) (criterion last, no calibration)`,
      `removed layers (original indices): ${out.dropped.join(", ")}; ${out.layers.length} layers left, cache tensors renumbered 0..${out.layers.length - 1}`,
      `parameters ${out.paramsDense} -> ${out.paramsRemaining} (float32 *.weight and *.bias initializers)`,
    ];
    if (out.influence) notes.push(`block influence per layer: ${out.influence.map((v, i) => `${i}: ${v.toFixed(5)}`).join(", ")}`);
    return {
      modelPath: written.path,
      metrics: {
        params_remaining: out.paramsRemaining,
        sparsity_overall: 1 - out.paramsRemaining / out.paramsDense,
        layers_removed: out.dropped.length,
      },
      artifacts: written.artifacts,
      notes,
    };
  },
});
