/**
 * quant.gptq: Hessian-based column-by-column quantization with error feedback (arXiv 2210.17323).
 *
 * Sequential (the reference's order): decoder layers are taken one at a time, in graph order; each
 * layer's Hessians come from activations computed with every earlier layer already replaced by
 * its quantized-then-dequantized weights, so later layers correct for the earlier layers' error.
 * Within a layer, linears are calibrated together (the reference without "true sequential").
 */
import type { z } from "zod";
import type { quantGptq } from "../../../lib/methods/quantization";
import { readModel } from "../../onnx/model-io";
import { captureActivations, type TapStats } from "../calibration";
import { defineExecutor } from "../types";
import { applyProgress, calibrationSeqLen, describeFormat, emitAndWrite, loadTargets, quantResult, type QuantizedLayer } from "./driver";
import { quantizableLinears, readRowWeight, resolveFormat, writeRowWeight, type LinearTarget } from "./emit";
import { gptqQuantize } from "./gptq-core";
import { dequantize } from "./quant-math";

export type GptqParams = z.output<typeof quantGptq.params>;

/**
 * Targets in graph order, grouped by decoder layer; others (the output head) stand alone. The layer
 * is the one `quantizableLinears` read from the graph: the node name's module path
 * (`/model/layers.3/self_attn/q_proj/MatMul`), else the residual-stream dataflow; only where
 * neither places a linear is `layers.{i}.` looked for in the weight name, since exporters name
 * weights `onnx::MatMul_1234`.
 */
export function layerBlocks(targets: readonly LinearTarget[]): LinearTarget[][] {
  const blocks: LinearTarget[][] = [];
  const byLayer = new Map<string, LinearTarget[]>();
  for (const t of [...targets].sort((a, b) => a.nodeIndex - b.nodeIndex)) {
    const fromWeight = /(?:^|\.)layers\.(\d+)\./.exec(t.weightName)?.[1];
    const layer = t.layer ?? (fromWeight === undefined ? undefined : `weight:${fromWeight}`);
    const existing = layer === undefined ? undefined : byLayer.get(layer);
    if (existing) existing.push(t);
    else {
      const block = [t];
      blocks.push(block);
      if (layer !== undefined) byLayer.set(layer, block);
    }
  }
  return blocks;
}

export default defineExecutor<GptqParams>({
  id: "quant.gptq",
  async run(ctx, p) {
    const format = resolveFormat(p.format, p.bits, ctx.runtime, p.accuracy_level);
    const { model, targets, notes } = loadTargets(ctx.modelPath, { quantizeHead: p.quantize_head });
    const seqLen = calibrationSeqLen(ctx);
    ctx.reporter.stage("calibrate");
    const batches = await ctx.calibrationBatches(p.calib_samples, seqLen);
    const blocks = p.sequential ? layerBlocks(targets) : [targets];
    // The float model with each finished layer's weights replaced by their dequantized values.
    const work = p.sequential ? readModel(ctx.modelPath) : model;
    const workTargets = new Map(quantizableLinears(work).targets.map((t) => [t.weightName, t]));

    const raised: string[] = [];
    let dead = 0;
    const layers: QuantizedLayer[] = [];
    for (let b = 0; b < blocks.length; b++) {
      const block = blocks[b];
      ctx.reporter.stage(`quantize ${b + 1}/${blocks.length}`);
      const stats: Map<string, TapStats> = await captureActivations(
        work,
        block.map((t) => ({ name: t.input, k: t.k })),
        batches,
        { gram: true, scratchDir: ctx.workDir },
      );
      for (const target of block) {
        const st = stats.get(target.input);
        if (!st?.gram) throw new Error(`no calibration statistics for ${target.input}`);
        const res = gptqQuantize(readRowWeight(model, target), target.n, target.k, st.gram, st.tokens, {
          bits: p.bits,
          groupSize: p.group_size,
          symmetric: p.symmetric,
          actOrder: p.act_order,
          damp: p.damp,
          blockSize: p.block_size,
        });
        if (res.damp !== p.damp) raised.push(`${target.weightName} (${res.damp})`);
        dead += res.deadColumns;
        layers.push({ target, quantized: res.quantized });
        const w = workTargets.get(target.weightName);
        if (p.sequential && w && !w.tied) writeRowWeight(work, w, dequantize(res.quantized));
      }
      applyProgress(ctx, (b + 1) / blocks.length);
    }
    const emit = { accuracyLevel: p.accuracy_level };
    const summary = emitAndWrite(ctx, model, layers, format, emit);
    return quantResult(summary, layers.length, [
      describeFormat(format, p.bits, layers, emit),
      `GPTQ: damp ${p.damp}, block ${p.block_size}, ${p.act_order ? "act-order with static groups" : "natural column order"}, ${p.symmetric ? "symmetric" : "asymmetric"}; ` +
        (p.sequential
          ? `${blocks.length} layer-sequential calibration passes (each on the model with the earlier layers quantized)`
          : "every layer's Hessian from the float model's activations (one calibration pass)") +
        `, ${batches.length} sequences x ${batches[0].length} tokens`,
      ...(raised.length ? [`damping raised to reach a positive-definite Hessian: ${raised.join(", ")}`] : []),
      ...(dead ? [`${dead} input channels never activated in calibration (weights zeroed, as the reference)`] : []),
      ...notes,
    ]);
  },
});
