/**
 * quant.smoothquant: W8A8 (arXiv 2211.10438). For linears fed by a norm, per-channel migration
 * scales s_j = max|X_j|^α / max|W_j|^(1-α) move activation outliers into the weights (1/s folded
 * into the norm weight); then every decoder linear runs int8 x int8 with its activation quantized
 * at run time. As in the reference, the output projection to logits stays in float32.
 */
import type { z } from "zod";
import type { quantSmoothquant } from "../../../lib/methods/quantization";
import { defineExecutor } from "../types";
import { applyProgress, calibrate, calibrationSeqLen, loadTargets, quantResult, writeRunModel } from "./driver";
import { emitW8A8Group, readRowWeight } from "./emit";
import { findFoldSite, foldInputScale, groupByInput, groupWeights } from "./fold";
import { quantizeRtn, bitsPerWeight, type StorageBytes } from "./quant-math";
import { smoothScales } from "./scaling";
import { checkEquivalent } from "./awq";

export type SmoothQuantParams = z.output<typeof quantSmoothquant.params>;

export default defineExecutor<SmoothQuantParams>({
  id: "quant.smoothquant",
  async run(ctx, p) {
    const loaded = loadTargets(ctx.modelPath);
    const { model } = loaded;
    const outputs = new Set((model.graph?.output ?? []).map((v) => v.name ?? ""));
    const head = loaded.targets.filter((t) => outputs.has(t.node.output?.[0] ?? ""));
    const targets = loaded.targets.filter((t) => !head.includes(t));
    if (targets.length === 0) throw new Error("SmoothQuant: no decoder linear layers besides the output head");
    const stats = await calibrate(ctx, targets, p.calib_samples, false);
    const groups = groupByInput(targets);

    ctx.reporter.stage("smooth");
    let smoothed = 0;
    for (const group of groups) {
      const site = findFoldSite(model, group, targets);
      if (site.kind !== "norm") continue;
      const st = stats.get(group.input);
      if (!st) throw new Error(`no calibration statistics for ${group.input}`);
      foldInputScale(model, group, smoothScales(groupWeights(model, group), st.maxAbs, p.alpha), site);
      smoothed++;
    }
    const probe = (await ctx.calibrationBatches(1, Math.min(64, calibrationSeqLen(ctx))))[0];
    const diff = await checkEquivalent(ctx, model, probe);

    ctx.reporter.stage("quantize");
    const storage: StorageBytes = { codes: 0, scales: 0, zeros: 0 };
    let weights = 0;
    groups.forEach((group, i) => {
      applyProgress(ctx, i / groups.length);
      const members = group.members.map((target) => ({
        target,
        quantized: quantizeRtn(readRowWeight(model, target), target.n, target.k, { bits: 8, groupSize: 0, symmetric: true }),
      }));
      const s = emitW8A8Group(model, group.members[0].node.input?.[0] ?? group.input, members);
      storage.codes += s.codes;
      storage.scales += s.scales;
      weights += group.members.reduce((n, m) => n + m.k * m.n, 0);
    });
    const written = writeRunModel(ctx, model);
    const bits = bitsPerWeight(storage, weights);
    return quantResult({ path: written.path, storage, weights, bitsEffective: bits, artifacts: written.artifacts }, targets.length, [
      "format w8a8: DynamicQuantizeLinear (per-tensor uint8 activations at run time) + MatMulInteger with per-channel symmetric int8 weights",
      `SmoothQuant alpha ${p.alpha}: ${smoothed} of ${groups.length} input groups smoothed (those fed by a norm); folded float model matches the original (relative max logit diff ${diff.toExponential(2)})`,
      ...(head.length ? [`left in float32: ${head.map((t) => t.weightName).join(", ")} (output head, as the reference)`] : []),
      ...loaded.notes,
    ]);
  },
});
