/**
 * prune.sparsegpt (arXiv 2301.00774): one-shot pruning with Hessian-based reconstruction of the
 * remaining weights (sparsegpt-core.ts). Layer-sequential like the reference's driver (and GPTQ's):
 * decoder layers in graph order, each layer's Hessians from activations of the model with every
 * earlier layer already pruned and reconstructed; the linears of one layer are calibrated together
 * on the layer's dense activations (the reference without true-sequential groups).
 */
import type { z } from "zod";
import type { pruneSparsegpt } from "../../../lib/methods/pruning";
import { defineExecutor } from "../types";
import { loadPruneTargets, patternNotes, pruneResult, pruneSequential } from "./driver";
import { sparsegptPrune } from "./sparsegpt-core";

export type SparseGptParams = z.output<typeof pruneSparsegpt.params>;

/** The reference's block size: the unstructured mask's comparison group is rows x 128 columns. */
export const SPARSEGPT_BLOCK = 128;

export default defineExecutor<SparseGptParams>({
  id: "prune.sparsegpt",
  async run(ctx, p) {
    const { model, targets, notes } = loadPruneTargets(ctx.modelPath, p.pattern);
    const raised: string[] = [];
    let dead = 0;
    const cal = await pruneSequential(
      ctx,
      model,
      targets,
      p.calib_samples,
      true,
      (t, w, st) => {
        if (!st.gram) throw new Error(`no calibration statistics for ${t.input}`);
        const res = sparsegptPrune(w, t.n, t.k, st.gram, st.tokens, { sparsity: p.sparsity, pattern: p.pattern, damp: p.damp, blockSize: SPARSEGPT_BLOCK });
        if (res.damp !== p.damp) raised.push(`${t.weightName} (${res.damp})`);
        dead += res.deadColumns;
        return res.weight;
      },
      p.true_sequential,
    );
    return pruneResult(ctx, model, targets, [
      `SparseGPT: damp ${p.damp}, block ${SPARSEGPT_BLOCK}, ${
        p.pattern === "unstructured"
          ? `mask over each rows x ${SPARSEGPT_BLOCK} block (floor(${p.sparsity} x block weights) zeroed per block)`
          : `${p.pattern} mask chosen every ${p.pattern.split(":")[1]} columns from the error-updated weights`
      }, remaining weights reconstructed; ${
        p.true_sequential
          ? `true-sequential: ${cal.passes} calibration passes over ${cal.blocks} layers, one per group of linears sharing an input (q/k/v, o, gate/up, down), each after the earlier groups are pruned`
          : `${cal.blocks} layer-sequential calibration passes (each on the model with the earlier layers pruned)`
      }, ${cal.sequences} sequences, ${cal.tokens} tokens`,
      ...(raised.length ? [`damping raised to reach a positive-definite Hessian: ${raised.join(", ")}`] : []),
      ...(dead ? [`${dead} input channels never activated in calibration (weights zeroed, as the reference)`] : []),
      ...patternNotes(p.pattern, p.sparsity),
      ...notes,
    ]);
  },
});
