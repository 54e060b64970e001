/**
 * tokens.prompt-compress: LLMLingua's token-level iterative compression (microsoft/LLMLingua,
 * iterative_compress_prompt), simplified: no budget controller, no demonstration-level step, a
 * fixed keep ratio per segment instead of a perplexity threshold. A small registered model (the
 * compressor) scores each token's surprisal segment by segment, conditioned on the prompt compressed
 * so far; the highest-surprisal `ratio` of each segment is kept in order. The prompt's last
 * QUESTION_TAIL tokens (the question) are kept whole, as LLMLingua keeps the question. The target
 * answers from the compressed prompt; the compressor's time is part of each request's latency.
 */
import { performance } from "node:perf_hooks";
import { readDataset, splitExamples } from "../../eval/dataset";
import { type Decoder, kvFloatsPerToken, type TextTokenizer } from "../../eval/types";
import { defineExecutor } from "../types";
import { answerStopIds, median } from "./evaluate";
import { topK } from "./policies";
import { TOKENS_RUN_EXAMPLES } from "./run";

export const QUESTION_TAIL = 8;
export const SEGMENT = 32;

/** The kept token ids of `ids` (the tail always kept), scored by `compressor`. */
export async function compressPrompt(compressor: Decoder, ids: number[], ratio: number, start: number): Promise<number[]> {
  const tail = ids.slice(Math.max(0, ids.length - QUESTION_TAIL));
  const body = ids.slice(0, Math.max(0, ids.length - QUESTION_TAIL));
  const max = compressor.shape.maxPosition ?? Infinity;
  const kept: number[] = [];
  for (let s = 0; s < body.length; s += SEGMENT) {
    const seg = body.slice(s, s + SEGMENT);
    // condition on the compressed prefix (as much of it as the compressor's context holds)
    const room = Math.max(0, Math.min(kept.length, max - seg.length - 1));
    const context = [start, ...kept.slice(kept.length - room)];
    const lp = await compressor.logprobs(context, seg);
    const keep = topK(
      lp.map((x) => -x),
      Math.ceil(ratio * seg.length),
    );
    for (const i of keep) kept.push(seg[i]);
  }
  return [...kept, ...tail];
}

async function greedyAnswer(d: Decoder, tok: TextTokenizer, prompt: number[], maxNew: number): Promise<string> {
  const stop = answerStopIds(tok);
  return tok.decode(await d.generate(prompt, maxNew, stop)).split("\n")[0];
}

export default defineExecutor<{ ratio: number; compressor_model: string }>({
  id: "tokens.prompt-compress",
  async run(ctx, p) {
    const tok = ctx.tokenizer;
    if (ctx.shapeOnly || !tok)
      throw new Error(`prompt compression needs a trained model with a tokenizer; ${ctx.model.id} has ${ctx.shapeOnly ? "random weights" : "none"}`);
    const data = readDataset(ctx.dataset);
    if (data.task !== "exact-match" && data.task !== "recall") {
      throw new Error(`prompt compression answers prompts: dataset ${ctx.dataset.id} is a ${data.task} set, pick an exact-match or recall set`);
    }
    const compModel = await ctx.paramModel(p.compressor_model);
    if (compModel.shapeOnly) throw new Error(`compressor ${compModel.id} has random weights (shape-only): its surprisal means nothing`);
    const compressor = await compModel.open();
    if (compressor.shape.vocabSize !== ctx.shape.vocabSize) {
      await compressor.release();
      throw new Error(
        `compressor ${compModel.id} has a vocabulary of ${compressor.shape.vocabSize}, the target ${ctx.shape.vocabSize}: they must share the tokenizer`,
      );
    }
    const target = await ctx.openDecoder();
    const { scored } = splitExamples<{ prompt: string; answer: string }>(data.examples as { prompt: string; answer: string }[], ctx.seed, TOKENS_RUN_EXAMPLES);
    const start = tok.eosId ?? 0;
    const max = target.shape.maxPosition;
    let correct = 0;
    let denseCorrect = 0;
    let kept = 0;
    let held = 0;
    const msMethod: number[] = [];
    const msDense: number[] = [];
    const msCompress: number[] = [];
    try {
      for (const [i, ex] of scored.entries()) {
        let ids = tok.encode(ex.prompt);
        const maxNew = tok.encode(ex.answer).length + 2;
        if (max !== null && ids.length + maxNew > max) ids = ids.slice(ids.length - (max - maxNew));
        const runMethod = async () => {
          const t0 = performance.now();
          const short = await compressPrompt(compressor, ids, p.ratio, start);
          const tc = performance.now();
          const text = await greedyAnswer(target, tok, short, maxNew);
          msCompress.push(tc - t0);
          msMethod.push(performance.now() - t0);
          if (text.trim() === ex.answer.trim()) correct++;
          kept += short.length / ids.length;
          held = Math.max(held, kvFloatsPerToken(target.shape) * target.pastLength * 4);
        };
        const runDense = async () => {
          const t0 = performance.now();
          const text = await greedyAnswer(target, tok, ids, maxNew);
          msDense.push(performance.now() - t0);
          if (text.trim() === ex.answer.trim()) denseCorrect++;
        };
        if (i % 2 === 0) {
          await runMethod();
          await runDense();
        } else {
          await runDense();
          await runMethod();
        }
        ctx.reporter.progress(0.1 + (0.85 * (i + 1)) / scored.length);
      }
    } finally {
      await compressor.release();
      await target.release();
    }
    const n = scored.length;
    const metrics: Record<string, number> = {
      exact_match: correct / n,
      quality_delta: (correct - denseCorrect) / n,
      kept_token_ratio: kept / n,
      kv_cache_bytes: held,
      latency_ms_p50: median(msMethod),
      speedup: median(msDense) / median(msMethod),
      eval_examples: n,
    };
    const notes = [
      `LLMLingua-style iterative token compression, simplified: ${compModel.id} scores surprisal in segments of ${SEGMENT} tokens conditioned on the compressed prefix; the top ${p.ratio} of each segment kept; the last ${QUESTION_TAIL} prompt tokens kept whole`,
      `${n} examples of ${ctx.dataset.id}; dense (uncompressed) exact match ${(denseCorrect / n).toFixed(3)}, request latency ${median(msDense).toFixed(1)} ms; compressed ${median(msMethod).toFixed(1)} ms of which the compressor ${median(msCompress).toFixed(1)} ms (order alternating per example)`,
      "kv_cache_bytes: the target's cache after answering from the compressed prompt",
    ];
    return { metrics, artifacts: [], notes, measured: { quality: true, speed: true } };
  },
});
