/**
 * prune.magnitude: zero the smallest |W| of every decoder-layer linear (Han et al., arXiv
 * 1506.02626, as the Wanda repository's `prune_magnitude` baseline runs it on LLMs). The comparison
 * group is the whole weight matrix (unstructured) or each group of M input columns of a row (N:M).
 * No calibration and no weight update.
 */
import type { z } from "zod";
import type { pruneMagnitude } from "../../../lib/methods/pruning";
import { readRowWeight, writeRowWeight } from "../quantization/emit";
import { defineExecutor } from "../types";
import { loadPruneTargets, patternNotes, pruneResult } from "./driver";
import { applyMask, lowestNM, lowestPerMatrix, nmOf, type SparsityPattern } from "./masks";

export type MagnitudeParams = z.output<typeof pruneMagnitude.params>;

/** The mask (1 = pruned) magnitude pruning chooses for W[rows, cols]. */
export function magnitudeMask(weight: ArrayLike<number>, rows: number, cols: number, sparsity: number, pattern: SparsityPattern): Uint8Array {
  if (weight.length !== rows * cols) throw new Error(`weight has ${weight.length} values, expected ${rows}x${cols}`);
  const scores = Float64Array.from(weight, Math.abs);
  const nm = nmOf(pattern);
  if (!nm) return lowestPerMatrix(scores, sparsity);
  const mask = new Uint8Array(rows * cols);
  lowestNM(scores, rows, cols, nm, mask);
  return mask;
}

export default defineExecutor<MagnitudeParams>({
  id: "prune.magnitude",
  async run(ctx, p) {
    const { model, targets, notes } = loadPruneTargets(ctx.modelPath, p.pattern);
    ctx.reporter.stage("prune");
    for (const t of targets) {
      const w = readRowWeight(model, t);
      applyMask(w, magnitudeMask(w, t.n, t.k, p.sparsity, p.pattern));
      writeRowWeight(model, t, w);
    }
    return pruneResult(ctx, model, targets, [
      `magnitude: |W| ranked ${p.pattern === "unstructured" ? `over each whole weight matrix, floor(${p.sparsity} x weights) zeroed per matrix` : `in every group of ${nmOf(p.pattern)?.m} input columns of each row (${p.pattern})`}; no calibration, no weight update`,
      ...patternNotes(p.pattern, p.sparsity),
      ...notes,
    ]);
  },
});
