/**
 * prune.wanda (Sun et al., arXiv 2306.11695): score S_ij = |W_ij| · ‖X_j‖, the weight's magnitude
 * times the root mean square of its input channel over the calibration tokens, and zero the lowest
 * scores of each output row (unstructured) or of each group of M input columns of a row (N:M). No
 * weight update. Layer-sequential like the reference's `prune_wanda`: each decoder layer's inputs
 * come from the model with the earlier layers already pruned, and all linears of a layer see the
 * layer's dense activations.
 *
 * The reference's `scaler_row` is Σ_tokens x_j² divided by the number of sequences; here it is
 * divided by the number of tokens. The factor is the same for every channel of a linear, so the
 * per-row ranking, and the mask, are the same.
 */
import type { z } from "zod";
import type { pruneWanda } from "../../../lib/methods/pruning";
import { defineExecutor } from "../types";
import { loadPruneTargets, patternNotes, pruneResult, pruneSequential } from "./driver";
import { applyMask, lowestNM, lowestPerRow, nmOf, type SparsityPattern } from "./masks";

export type WandaParams = z.output<typeof pruneWanda.params>;

/** S_ij = |W_ij| · sqrt(Σ_t x_tj² / tokens) for W[rows, cols] and per-channel sums of squares. */
export function wandaScores(weight: ArrayLike<number>, rows: number, cols: number, sumSq: ArrayLike<number>, tokens: number): Float64Array {
  if (weight.length !== rows * cols) throw new Error(`weight has ${weight.length} values, expected ${rows}x${cols}`);
  if (sumSq.length !== cols) throw new Error(`activation norms have ${sumSq.length} channels, expected ${cols}`);
  if (!(tokens >= 1)) throw new Error("Wanda needs at least one calibration token");
  const norm = Float64Array.from(sumSq, (v) => Math.sqrt(v / tokens));
  const s = new Float64Array(rows * cols);
  for (let r = 0; r < rows; r++) for (let c = 0; c < cols; c++) s[r * cols + c] = Math.abs(weight[r * cols + c]) * norm[c];
  return s;
}

/** The mask (1 = pruned) Wanda chooses: per output row, or N:M. */
export function wandaMask(
  weight: ArrayLike<number>,
  rows: number,
  cols: number,
  sumSq: ArrayLike<number>,
  tokens: number,
  sparsity: number,
  pattern: SparsityPattern,
): Uint8Array {
  const scores = wandaScores(weight, rows, cols, sumSq, tokens);
  const nm = nmOf(pattern);
  if (!nm) return lowestPerRow(scores, rows, cols, sparsity);
  const mask = new Uint8Array(rows * cols);
  lowestNM(scores, rows, cols, nm, mask);
  return mask;
}

/** Σ x_j² per channel: the Gram matrix's diagonal. */
export function gramDiagonal(gram: Float64Array, k: number): Float64Array {
  return Float64Array.from({ length: k }, (_, j) => gram[j * k + j]);
}

export default defineExecutor<WandaParams>({
  id: "prune.wanda",
  async run(ctx, p) {
    const { model, targets, notes } = loadPruneTargets(ctx.modelPath, p.pattern);
    const cal = await pruneSequential(ctx, model, targets, p.calib_samples, true, (t, w, st) => {
      if (!st.gram) throw new Error(`no activation statistics for ${t.input}`);
      applyMask(w, wandaMask(w, t.n, t.k, gramDiagonal(st.gram, t.k), st.tokens, p.sparsity, p.pattern));
      return w;
    });
    return pruneResult(ctx, model, targets, [
      `Wanda: |W| x input RMS ranked ${p.pattern === "unstructured" ? `per output row, floor(${p.sparsity} x K) zeroed per row` : `in every group of ${nmOf(p.pattern)?.m} input columns of each row (${p.pattern})`}; no weight update; ` +
        `${cal.blocks} layer-sequential calibration passes (each on the model with the earlier layers pruned), ${cal.sequences} sequences, ${cal.tokens} tokens`,
      ...patternNotes(p.pattern, p.sparsity),
      ...notes,
    ]);
  },
});
