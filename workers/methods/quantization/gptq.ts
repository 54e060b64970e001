/** quant.gptq: Hessian-based column-by-column quantization with error feedback (arXiv 2210.17323). */
import type { z } from "zod";
import type { quantGptq } from "../../../lib/methods/quantization";
import { defineExecutor } from "../types";
import { applyProgress, calibrate, describeFormat, emitAndWrite, loadTargets, quantResult, type QuantizedLayer } from "./driver";
import { readRowWeight, resolveFormat } from "./emit";
import { gptqQuantize } from "./gptq-core";

export type GptqParams = z.output<typeof quantGptq.params>;

export default defineExecutor<GptqParams>({
  id: "quant.gptq",
  async run(ctx, p) {
    const format = resolveFormat(p.format, p.bits, ctx.runtime);
    const { model, targets, notes } = loadTargets(ctx.modelPath);
    const stats = await calibrate(ctx, targets, p.calib_samples, true);
    ctx.reporter.stage("quantize");
    const raised: string[] = [];
    let dead = 0;
    const layers: QuantizedLayer[] = targets.map((target, i) => {
      applyProgress(ctx, i / targets.length);
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
      return { target, quantized: res.quantized };
    });
    const emit = { accuracyLevel: p.accuracy_level };
    const summary = emitAndWrite(ctx, model, layers, format, emit);
    return quantResult(summary, layers.length, [
      describeFormat(format, p.bits, layers, emit),
      `GPTQ: damp ${p.damp}, block ${p.block_size}, ${p.act_order ? "act-order with static groups" : "natural column order"}, ${p.symmetric ? "symmetric" : "asymmetric"}; every layer's Hessian from the float model's activations (one calibration pass, not layer-sequential)`,
      ...(raised.length ? [`damping raised to reach a positive-definite Hessian: ${raised.join(", ")}`] : []),
      ...(dead ? [`${dead} input channels never activated in calibration (weights zeroed, as the reference)`] : []),
      ...notes,
    ]);
  },
});
