/** quant.rtn: round-to-nearest of every linear weight, per channel or grouped along K. */
import type { z } from "zod";
import type { quantRtn } from "../../../lib/methods/quantization";
import { defineExecutor } from "../types";
import { applyProgress, describeFormat, emitAndWrite, loadTargets, quantResult, type QuantizedLayer } from "./driver";
import { readRowWeight, resolveFormat } from "./emit";
import { quantizeRtn } from "./quant-math";

export type RtnParams = z.output<typeof quantRtn.params>;

export default defineExecutor<RtnParams>({
  id: "quant.rtn",
  async run(ctx, p) {
    const format = resolveFormat(p.format, p.bits, ctx.runtime, p.accuracy_level);
    const { model, targets, notes } = loadTargets(ctx.modelPath, { keep: p.keep_layers, quantizeHead: p.quantize_head });
    ctx.reporter.stage("quantize");
    const layers: QuantizedLayer[] = targets.map((target, i) => {
      applyProgress(ctx, i / targets.length);
      const w = readRowWeight(model, target);
      return { target, quantized: quantizeRtn(w, target.n, target.k, { bits: p.bits, groupSize: p.group_size, symmetric: p.symmetric }) };
    });
    const emit = { accuracyLevel: p.accuracy_level };
    const summary = emitAndWrite(ctx, model, layers, format, emit);
    return quantResult(summary, layers.length, [describeFormat(format, p.bits, layers, emit), `RTN ${p.symmetric ? "symmetric" : "asymmetric"}`, ...notes]);
  },
});
