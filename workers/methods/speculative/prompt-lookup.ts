/**
 * spec.prompt-lookup: drafts are the continuation of the first earlier occurrence of the last n
 * tokens (n = ngram down to 1) in the prompt and the text generated so far (lookup.ts); the target
 * verifies them in one forward. No model, so the draft costs a scan of the sequence.
 */
import { performance } from "node:perf_hooks";
import { defineExecutor } from "../types";
import { PromptLookupGenerator } from "./candidates";
import type { Verification } from "./loop";
import { promptLookup } from "./lookup";
import { runSpeculative } from "./run";

interface Params {
  ngram: number;
  gamma: number;
  verification: Verification;
  temperature: number;
}

export default defineExecutor<Params>({
  id: "spec.prompt-lookup",
  async run(ctx, params) {
    const target = await ctx.openDecoder();
    try {
      return await runSpeculative(ctx, target, {
        gamma: params.gamma,
        verification: params.verification,
        temperature: params.temperature,
        generator: new PromptLookupGenerator(params.ngram),
        timeDraftStep: async (seq) => {
          const t0 = performance.now();
          promptLookup(seq, params.ngram, params.gamma);
          return performance.now() - t0;
        },
        describe: `prompt lookup (ngram ${params.ngram})`,
      });
    } finally {
      await target.release();
    }
  },
});
