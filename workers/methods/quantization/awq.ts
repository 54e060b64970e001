/**
 * quant.awq: activation-aware scaling (arXiv 2306.00978). Per group of linears sharing an input,
 * s = mean|x|^α with α grid-searched to minimise the group's output error after quantization; the
 * scales are folded into the graph (fold.ts), the folded float model is checked against the
 * original, then the scaled weights are quantized round-to-nearest (asymmetric, grouped).
 */
import path from "node:path";
import fs from "node:fs";
import type { z } from "zod";
import type { quantAwq } from "../../../lib/methods/quantization";
import { writeModel } from "../../onnx/model-io";
import { meanAbs, sequenceLogits } from "../calibration";
import { defineExecutor, type MethodContext } from "../types";
import { applyProgress, calibrate, calibrationSeqLen, describeFormat, emitAndWrite, loadTargets, quantResult, type QuantizedLayer } from "./driver";
import { readRowWeight, resolveFormat } from "./emit";
import { findFoldSite, foldInputScale, groupByInput, groupWeights } from "./fold";
import { quantizeRtn } from "./quant-math";
import { awqSearch } from "./scaling";

export type AwqParams = z.output<typeof quantAwq.params>;

/** Largest |a - b| relative to max |a|. */
export function relativeMaxDiff(a: Float32Array, b: Float32Array): number {
  let d = 0;
  let m = 0;
  for (let i = 0; i < a.length; i++) {
    d = Math.max(d, Math.abs(a[i] - b[i]));
    m = Math.max(m, Math.abs(a[i]));
  }
  return d / Math.max(m, 1e-12);
}

/** Writes the folded float model, runs one calibration sequence through both, and fails if they differ. */
export async function checkEquivalent(ctx: MethodContext, folded: Parameters<typeof writeModel>[0], ids: number[]): Promise<number> {
  const file = path.join(ctx.workDir, "folded-fp32.onnx");
  writeModel(folded, file);
  try {
    const [a, b] = [await sequenceLogits(ctx.modelPath, ids), await sequenceLogits(file, ids)];
    const diff = relativeMaxDiff(a, b);
    // float32 rounding of rescaled weights moves logits by ~1e-6 relative (measured on the test decoder)
    if (!(diff < 1e-3)) throw new Error(`AWQ scale folding changed the float model's logits (relative max diff ${diff})`);
    return diff;
  } finally {
    fs.rmSync(file, { force: true });
    fs.rmSync(`${file}.data`, { force: true });
  }
}

export default defineExecutor<AwqParams>({
  id: "quant.awq",
  async run(ctx, p) {
    const format = resolveFormat(p.format, p.bits, ctx.runtime);
    const { model, targets, notes } = loadTargets(ctx.modelPath);
    const stats = await calibrate(ctx, targets, p.calib_samples, true);
    const spec = { bits: p.bits, groupSize: p.group_size, symmetric: false };
    // A tied head shares its float weights with the embedding lookup, so it cannot be rescaled.
    const groups = groupByInput(targets).filter((g) => g.members.every((m) => !m.tied));

    ctx.reporter.stage("search scales");
    const searched = groups.map((group, i) => {
      applyProgress(ctx, (0.8 * i) / groups.length);
      const st = stats.get(group.input);
      if (!st?.gram) throw new Error(`no calibration statistics for ${group.input}`);
      return { group, result: awqSearch(groupWeights(model, group), meanAbs(st), st.gram, spec, p.alpha_grid) };
    });
    const sites = { norm: 0, linear: 0, mul: 0 };
    for (const { group, result } of searched) {
      const site = findFoldSite(model, group, targets);
      sites[site.kind]++;
      foldInputScale(model, group, result.scales, site);
    }
    const probe = (await ctx.calibrationBatches(1, Math.min(64, calibrationSeqLen(ctx))))[0];
    const diff = await checkEquivalent(ctx, model, probe);

    ctx.reporter.stage("quantize");
    const layers: QuantizedLayer[] = targets.map((target) => ({
      target,
      quantized: quantizeRtn(readRowWeight(model, target), target.n, target.k, spec),
    }));
    applyProgress(ctx, 1);
    const emit = { accuracyLevel: p.accuracy_level };
    const summary = emitAndWrite(ctx, model, layers, format, emit);
    const gain = searched.reduce((s, x) => s + x.result.errorBest, 0) / Math.max(1e-30, searched.reduce((s, x) => s + x.result.errorRtn, 0));
    const alphas = searched.map((x) => x.result.alpha.toFixed(2)).join(" ");
    return quantResult(summary, layers.length, [
      describeFormat(format, p.bits, layers, emit),
      `AWQ: ${groups.length} input groups${targets.some((t) => t.tied) ? " (tied head quantized without scaling)" : ""}, alpha grid ${p.alpha_grid}, chosen alphas [${alphas}]; calibration output error ${(100 * gain).toFixed(1)}% of plain RTN's`,
      `scales folded: ${sites.norm} into norm weights, ${sites.linear} into a preceding linear's output columns, ${sites.mul} as an inserted Mul; folded float model matches the original (relative max logit diff ${diff.toExponential(2)})`,
      ...notes,
    ]);
  },
});
