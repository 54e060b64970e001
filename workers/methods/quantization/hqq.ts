/** quant.hqq: calibration-free half-quadratic optimisation of each group's zero point. */
import type { z } from "zod";
import type { quantHqq } from "../../../lib/methods/quantization";
import { defineExecutor } from "../types";
import { applyProgress, describeFormat, emitAndWrite, loadTargets, quantResult, type QuantizedLayer } from "./driver";
import { readRowWeight, resolveFormat } from "./emit";
import { hqqQuantize, meanAbsError } from "./hqq-core";
import { dequantize, quantizeRtn } from "./quant-math";

export type HqqParams = z.output<typeof quantHqq.params>;

export default defineExecutor<HqqParams>({
  id: "quant.hqq",
  async run(ctx, p) {
    const format = resolveFormat(p.format, p.bits, ctx.runtime, p.accuracy_level);
    const { model, targets, notes } = loadTargets(ctx.modelPath, { quantizeHead: p.quantize_head });
    ctx.reporter.stage("quantize");
    let errRtn = 0;
    let errHqq = 0;
    let count = 0;
    const layers: QuantizedLayer[] = targets.map((target, i) => {
      applyProgress(ctx, i / targets.length);
      const w = readRowWeight(model, target);
      const spec = { bits: p.bits, groupSize: p.group_size, symmetric: false };
      const quantized = hqqQuantize(w, target.n, target.k, { ...spec, iters: p.iters, lpNorm: p.lp_norm, integerZeros: false });
      errRtn += meanAbsError(w, dequantize(quantizeRtn(w, target.n, target.k, spec))) * w.length;
      errHqq += meanAbsError(w, dequantize(quantized)) * w.length;
      count += w.length;
      return { target, quantized };
    });
    const emit = { accuracyLevel: p.accuracy_level };
    const summary = emitAndWrite(ctx, model, layers, format, emit);
    return quantResult(summary, layers.length, [
      describeFormat(format, p.bits, layers, emit),
      `HQQ: ${p.iters} iterations, l_p norm ${p.lp_norm}, mean |W - Ŵ| ${(errHqq / count).toExponential(3)} vs RTN ${(errRtn / count).toExponential(3)}`,
      ...notes,
    ]);
  },
});
