/**
 * quant.smoothquant: W8A8 (arXiv 2211.10438). For linears fed by a norm, per-channel migration
 * scales s_j = max|X_j|^α / max|W_j|^(1-α) move activation outliers into the weights (1/s folded
 * into the norm weight); then every decoder linear runs int8 x int8 with its activation quantized
 * at run time (w8a8.ts). As in the reference, the output projection to logits stays in float32.
 * `smoothing: false` gives the same W8A8 without migration, so the smoothing's effect is visible.
 */
import type { z } from "zod";
import type { quantSmoothquant } from "../../../lib/methods/quantization";
import { defineExecutor } from "../types";
import { applyProgress, calibrate, calibrationSeqLen, loadTargets, quantResult, writeRunModel } from "./driver";
import { readRowWeight } from "./emit";
import { findFoldSite, foldInputScale, groupByInput, groupWeights } from "./fold";
import { bitsPerWeight, type StorageBytes } from "./quant-math";
import { describeW8A8, emitW8A8Group, quantizeInt8PerChannel } from "./w8a8";
import { smoothScales } from "./scaling";
import { checkEquivalent } from "./awq";

export type SmoothQuantParams = z.output<typeof quantSmoothquant.params>;

export default defineExecutor<SmoothQuantParams>({
  id: "quant.smoothquant",
  async run(ctx, p) {
    // The output head stays in float32 (loadTargets' default), as in the reference.
    const loaded = loadTargets(ctx.modelPath);
    const { model, targets } = loaded;
    const groups = groupByInput(targets);
    const stats = p.smoothing ? await calibrate(ctx, targets, p.calib_samples, false) : null;

    ctx.reporter.stage("smooth");
    let smoothed = 0;
    for (const group of stats ? groups : []) {
      const site = findFoldSite(model, group, targets);
      if (site.kind !== "norm") continue;
      const st = stats!.get(group.input);
      if (!st) throw new Error(`no calibration statistics for ${group.input}`);
      foldInputScale(model, group, smoothScales(groupWeights(model, group), st.maxAbs, p.alpha), site);
      smoothed++;
    }
    const diff = stats ? await checkEquivalent(ctx, model, (await ctx.calibrationBatches(1, Math.min(64, calibrationSeqLen(ctx))))[0]) : 0;

    ctx.reporter.stage("quantize");
    const storage: StorageBytes = { codes: 0, scales: 0, zeros: 0 };
    let weights = 0;
    groups.forEach((group, i) => {
      applyProgress(ctx, i / groups.length);
      const members = group.members.map((target) => ({
        target,
        weight: quantizeInt8PerChannel(readRowWeight(model, target), target.n, target.k),
      }));
      const s = emitW8A8Group(model, group.members[0].node.input?.[0] ?? group.input, members, p.act_quant);
      storage.codes += s.codes;
      storage.scales += s.scales;
      weights += group.members.reduce((n, m) => n + m.k * m.n, 0);
    });
    const written = writeRunModel(ctx, model);
    const bits = bitsPerWeight(storage, weights);
    return quantResult({ path: written.path, storage, weights, bitsEffective: bits, bitsPacked: bits, artifacts: written.artifacts }, targets.length, [
      describeW8A8(p.act_quant),
      stats
        ? `SmoothQuant alpha ${p.alpha}: ${smoothed} of ${groups.length} input groups smoothed (those fed by a norm); folded float model matches the original (relative max logit diff ${diff.toExponential(2)})`
        : "no smoothing (smoothing: false): plain W8A8 with the same quantizers, for comparison",
      ...loaded.notes,
    ]);
  },
});
