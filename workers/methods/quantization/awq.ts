/**
 * quant.awq: activation-aware weight quantization (arXiv 2306.00978), following llm-awq's
 * `auto_scale` and `auto_clip`:
 *  - per group of linears sharing an input, s = mean|x|^α (normalised), α on a grid, chosen by the
 *    loss the reference inspects: for linears fed by a norm (q/k/v, gate/up) the output of the whole
 *    block they feed (attention through o_proj, the MLP through down_proj; awq-block.ts), for linears
 *    fed by another linear (v->o, up->down) their own output error;
 *  - the scales are folded into the norm weight or the preceding linear's output channels (fold.ts);
 *    a group with no such site (o_proj under grouped-query attention) is not scaled, as in the
 *    reference, and the folded float model is checked against the original;
 *  - then, except for q/k, a per-output-channel, per-group clip range is searched (awq-clip.ts);
 *  - the clipped, scaled weights are quantized round-to-nearest, asymmetric and grouped.
 * All searches use the float model's calibration activations, as the reference does.
 */
import path from "node:path";
import fs from "node:fs";
import type { z } from "zod";
import type { quantAwq } from "../../../lib/methods/quantization";
import { writeModel } from "../../onnx/model-io";
import { captureActivations, meanAbs, sequenceLogits } from "../calibration";
import { defineExecutor, type MethodContext } from "../types";
import { BlockEvaluator, captureTensors, chunkSequences, extractBlock, findBlockOutput, type BlockGraph } from "./awq-block";
import { AWQ_CLIP, autoClip, scaleGram, skipsClip } from "./awq-clip";
import { applyProgress, calibrationSeqLen, describeFormat, emitAndWrite, loadTargets, quantResult, type QuantizedLayer } from "./driver";
import { readRowWeight, resolveFormat } from "./emit";
import { findFoldSite, foldInputScale, groupByInput, groupWeights, type FoldSite, type LinearGroup } from "./fold";
import { quantizeRtn } from "./quant-math";
import { awqSearch, awqSearchBy, type AwqSearchResult } from "./scaling";

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

interface Planned {
  group: LinearGroup;
  site: FoldSite;
  /** The block output the search inspects, when the group is fed by a norm and the block could be cut out. */
  block: BlockGraph | null;
  /** Why a norm-fed group falls back to its own output error. */
  blockMissing?: string;
}

interface Searched extends Planned {
  result: AwqSearchResult | null;
}

/** Tokens per onnxruntime run of a block (bounds the attention scores' memory). */
const CHUNK_TOKENS = 2048;

export default defineExecutor<AwqParams>({
  id: "quant.awq",
  async run(ctx, p) {
    const format = resolveFormat(p.format, p.bits, ctx.runtime, p.accuracy_level);
    const { model, targets, notes } = loadTargets(ctx.modelPath, { quantizeHead: p.quantize_head });
    const spec = { bits: p.bits, groupSize: p.group_size, symmetric: false };

    ctx.reporter.stage("calibrate");
    const sequences = await ctx.calibrationBatches(p.calib_samples, calibrationSeqLen(ctx));
    const stats = await captureActivations(
      ctx.modelPath,
      targets.map((t) => ({ name: t.input, k: t.k })),
      sequences,
      { gram: true, scratchDir: ctx.workDir, onProgress: (d, n) => ctx.reporter.progress(0.4 + 0.01 * (d / n)) },
    );
    ctx.reporter.log(`calibration: ${sequences.length} sequences x ${sequences[0].length} tokens, ${stats.size} distinct linear inputs`);

    // A tied head shares its float weights with the embedding lookup, so it cannot be rescaled.
    const plans: Planned[] = groupByInput(targets)
      .filter((g) => g.members.every((m) => !m.tied))
      .map((group) => {
        const site = findFoldSite(model, group, targets);
        if (site.kind !== "norm") return { group, site, block: null };
        const output = findBlockOutput(model, group);
        if (!output) return { group, site, block: null, blockMissing: "no linear after it" };
        const block = extractBlock(model, group, output);
        return typeof block === "string" ? { group, site, block: null, blockMissing: block } : { group, site, block };
      });
    const chunks = chunkSequences(sequences, CHUNK_TOKENS);
    const blockGroups = plans.filter((x) => x.block).map((x) => x.group.input);
    const blockInputs = blockGroups.length ? await captureTensors(model, blockGroups, chunks, ctx.workDir) : new Map<string, Float32Array[]>();

    ctx.reporter.stage("search scales");
    const searched: Searched[] = [];
    for (const [i, plan] of plans.entries()) {
      applyProgress(ctx, (0.6 * i) / plans.length);
      const { group, site, block } = plan;
      const st = stats.get(group.input);
      if (!st?.gram) throw new Error(`no calibration statistics for ${group.input}`);
      if (site.kind === "mul") {
        searched.push({ ...plan, result: null });
        continue;
      }
      const weights = groupWeights(model, group);
      if (!block) {
        searched.push({ ...plan, result: awqSearch(weights, meanAbs(st), st.gram, spec, p.alpha_grid) });
        continue;
      }
      const graph = model.graph ?? {};
      const ev = await BlockEvaluator.create(
        block,
        group,
        graph.input ?? [],
        chunks,
        blockInputs.get(group.input)!,
        weights.map((w) => w.data),
      );
      try {
        searched.push({ ...plan, result: await awqSearchBy(weights, meanAbs(st), spec, p.alpha_grid, (c) => ev.loss(c)) });
      } finally {
        await ev.release();
      }
    }
    blockInputs.clear();

    const folded = { norm: 0, linear: 0 };
    const inputScale = new Map<string, Float32Array>();
    for (const { group, site, result } of searched) {
      if (!result || site.kind === "mul") continue;
      folded[site.kind]++;
      foldInputScale(model, group, result.scales, site);
      inputScale.set(group.input, result.scales);
    }
    const probe = sequences[0].slice(0, Math.min(64, sequences[0].length));
    const diff = await checkEquivalent(ctx, model, probe);

    ctx.reporter.stage("quantize");
    const clip = { before: 0, after: 0, layers: 0 };
    const layers: QuantizedLayer[] = targets.map((target, i) => {
      applyProgress(ctx, 0.6 + (0.4 * i) / targets.length);
      let w = readRowWeight(model, target);
      if (p.auto_clip && !skipsClip(target.weightName)) {
        const gram = stats.get(target.input)!.gram!;
        const s = inputScale.get(target.input);
        const r = autoClip(w, target.n, target.k, s ? scaleGram(gram, s) : gram, spec);
        w = r.weight;
        clip.before += r.errorBefore;
        clip.after += r.errorAfter;
        clip.layers++;
      }
      return { target, quantized: quantizeRtn(w, target.n, target.k, spec) };
    });
    applyProgress(ctx, 1);
    const emit = { accuracyLevel: p.accuracy_level };
    const summary = emitAndWrite(ctx, model, layers, format, emit);

    const describe = (x: Searched) => {
      const names = x.group.members.map((m) => m.weightName.replace(/\.weight$/, ""));
      const name = [names[0], ...names.slice(1).map((n) => n.split(".").pop())].join("/");
      if (!x.result) return `${name}: not scaled (no fold site)`;
      const rel = x.result.errorRtn > 0 ? ` (${((100 * x.result.errorBest) / x.result.errorRtn).toFixed(0)}% of alpha 0)` : "";
      return `${name}: alpha ${x.result.alpha.toFixed(2)}${rel}`;
    };
    const byBlock = searched.filter((x) => x.result && x.block).length;
    const fallback = searched.filter((x) => x.blockMissing).map((x) => `${x.group.input}: ${x.blockMissing}`);
    const unscaled = searched.filter((x) => !x.result).length;
    return quantResult(summary, layers.length, [
      describeFormat(format, p.bits, layers, emit),
      `AWQ: ${searched.length} input groups, alpha grid ${p.alpha_grid}; ${byBlock} searched on their block's output (attention / MLP), ${searched.length - byBlock - unscaled} on their own output` +
        (fallback.length ? ` (no block for ${fallback.join("; ")})` : "") +
        `; chosen: ${searched.map(describe).join(", ")}`,
      `scales folded: ${folded.norm} into norm weights, ${folded.linear} into a preceding linear's output channels` +
        (unscaled
          ? `, ${unscaled} group${unscaled === 1 ? "" : "s"} left unscaled (no norm or linear to fold into, as the reference skips o_proj under grouped-query attention)`
          : "") +
        `; folded float model matches the original (relative max logit diff ${diff.toExponential(2)})`,
      p.auto_clip
        ? `clipping: ${clip.layers} linears (q/k skipped, as the reference), grid ${AWQ_CLIP.grid} x shrink up to ${AWQ_CLIP.maxShrink}; calibration group output error ${((100 * clip.after) / Math.max(1e-30, clip.before)).toFixed(1)}% of unclipped`
        : "clipping off (auto_clip: false)",
      ...notes,
    ]);
  },
});
