/**
 * spec.draft: a smaller registered model with the target's tokenizer drafts `gamma` tokens per step
 * and the target verifies them in one forward (Leviathan et al. 2211.17192; transformers' assisted
 * decoding). Greedy or sampling verification (verify.ts); both caches are cropped to the accepted
 * length after every step.
 */
import path from "node:path";
import { performance } from "node:perf_hooks";
import type { Decoder } from "../../eval/types";
import { defineExecutor } from "../types";
import { checkSameVocabulary, DraftModelGenerator } from "./candidates";
import type { Verification } from "./loop";
import { runSpeculative } from "./run";

interface Params {
  draft_model: string;
  gamma: number;
  verification: Verification;
  temperature: number;
}

/** Times one draft forward of the last token of `seq` with the rest in its cache. */
export function draftStepTimer(draft: Decoder): (seq: number[]) => Promise<number> {
  let last: number[] | null = null;
  return async (seq) => {
    if (last !== seq || draft.pastLength !== seq.length - 1) {
      await draft.prefill(seq.slice(0, -1));
      last = seq;
    }
    const t0 = performance.now();
    await draft.step(seq[seq.length - 1]);
    return performance.now() - t0;
  };
}

export default defineExecutor<Params>({
  id: "spec.draft",
  async run(ctx, params) {
    if (params.draft_model === ctx.model.id) {
      throw new Error(`draft_model ${params.draft_model} is the target itself: pick a smaller model with the same tokenizer`);
    }
    const draftModel = await ctx.paramModel(params.draft_model);
    if (draftModel.shapeOnly) throw new Error(`draft model ${draftModel.id} has random weights (shape-only): its drafts would never be meaningful`);
    const targetTokenizer = ctx.model.files.tokenizer ? path.resolve(ctx.model.files.dir ?? "", ctx.model.files.tokenizer) : null;
    const draft = await draftModel.open();
    try {
      checkSameVocabulary(
        { id: ctx.model.id, vocabSize: ctx.shape.vocabSize, tokenizerPath: targetTokenizer },
        { id: draftModel.id, vocabSize: draft.shape.vocabSize, tokenizerPath: draftModel.tokenizerPath },
      );
      const target = await ctx.openDecoder();
      try {
        return await runSpeculative(ctx, target, {
          gamma: params.gamma,
          verification: params.verification,
          temperature: params.temperature,
          generator: new DraftModelGenerator(draft),
          timeDraftStep: draftStepTimer(draft),
          describe: `draft model ${draftModel.id}`,
        });
      } finally {
        await target.release();
      }
    } finally {
      await draft.release();
    }
  },
});
