/**
 * The executor body of tokens.streaming-llm, tokens.h2o and tokens.snapkv: the run's dataset
 * scored under the policy (exact match of greedy answers, or perplexity of the texts fed token by
 * token), each example also decoded by the dense cache right before or after it (order
 * alternating) for the speed comparison, and the metrics of lib/metrics.
 */
import { performance } from "node:perf_hooks";
import { readDataset, splitExamples } from "../../eval/dataset";
import { openDecoder } from "../../eval/decoder-session";
import { pairedRatioBootstrap } from "../../eval/intervals";
import type { MethodContext, MethodResult } from "../types";
import { KvPolicyState, generateWithPolicy, positionMode, streamNll, type KvPolicySpec } from "./kv-decode";
import { answerStopIds, median, openForPolicy, ropeTheta } from "./evaluate";

/** Examples scored per run: long prompts make each one cost a prefill of up to the whole context. */
export const TOKENS_RUN_EXAMPLES = 24;

export async function runKvPolicy(ctx: MethodContext, spec: KvPolicySpec, describe: string): Promise<MethodResult> {
  const tok = ctx.tokenizer;
  if (ctx.shapeOnly || !tok) {
    throw new Error(
      `${describe} needs a trained model with a tokenizer to score: ${ctx.model.id} ${ctx.shapeOnly ? "has random weights" : "has no tokenizer"} (npm run bench:tokens times the shape models)`,
    );
  }
  const runtime = ctx.runtime;
  if (runtime === "browser") throw new Error(`${describe} runs in a worker process on cpu, wasm or webgpu, not on the browser runtime`);
  const data = readDataset(ctx.dataset);
  const { scored } = splitExamples<{ prompt?: string; answer?: string; text?: string }>(data.examples, ctx.seed, TOKENS_RUN_EXAMPLES);
  const theta = ropeTheta(ctx.modelPath);
  ctx.reporter.stage("opening the model", 0.05);
  const method = await openForPolicy(ctx.modelPath, spec, ctx.workDir, runtime);
  const dense = await openDecoder(ctx.modelPath, runtime);
  const max = dense.shape.maxPosition;
  const stop = answerStopIds(tok);
  let correct = 0;
  let denseCorrect = 0;
  let nll = 0;
  let denseNll = 0;
  let count = 0;
  let kept = 0;
  let held = 0;
  let prefillPeak = 0;
  const msMethod: number[] = [];
  const msDense: number[] = [];
  const texts = data.task === "perplexity";
  try {
    ctx.reporter.stage(describe, 0.1);
    for (const [i, ex] of scored.entries()) {
      const run = async (which: "method" | "dense") => {
        const state = new KvPolicyState(which === "method" ? method : dense, which === "method" ? spec : { kind: "dense" }, theta);
        if (texts) {
          let ids = [...(tok.eosId !== null ? [tok.eosId] : []), ...tok.encode(ex.text ?? "")];
          // the dense cache cannot go past the context; the policies can (StreamingLLM's point)
          if (max !== null && (which === "dense" || positionMode(spec) === "absolute")) ids = ids.slice(0, max);
          const t0 = performance.now();
          const per = await streamNll(state, ids);
          const ms = (performance.now() - t0) / ids.length;
          return { state, ms, nll: per.reduce((a, b) => a + b, 0), n: per.length, ok: false };
        }
        let prompt = tok.encode(ex.prompt ?? "");
        const maxNew = tok.encode(ex.answer ?? "").length + 2;
        if (max !== null && prompt.length + maxNew > max) prompt = prompt.slice(prompt.length - (max - maxNew));
        const r = await generateWithPolicy(state, prompt, maxNew, stop);
        const ok = tok.decode(r.tokens).split("\n")[0].trim() === (ex.answer ?? "").trim();
        return { state, ms: median(r.decodeMs), nll: 0, n: 0, ok };
      };
      const order = i % 2 === 0 ? (["method", "dense"] as const) : (["dense", "method"] as const);
      const pair: Record<string, number> = {};
      for (const which of order) {
        const r = await run(which);
        if (which === "method") {
          if (r.ok) correct++;
          nll += r.nll;
          count += r.n;
          kept += r.state.keptRatio;
          held = Math.max(held, r.state.decodeKvBytes);
          prefillPeak = Math.max(prefillPeak, r.state.peakKvBytes);
          pair.method = r.ms;
        } else {
          if (r.ok) denseCorrect++;
          denseNll += r.nll;
          pair.dense = r.ms;
        }
      }
      // an example whose answer ended at its first token has no decode step to time
      if (Number.isFinite(pair.method) && Number.isFinite(pair.dense)) {
        msMethod.push(pair.method);
        msDense.push(pair.dense);
      }
      ctx.reporter.progress(0.1 + (0.85 * (i + 1)) / scored.length);
    }
  } finally {
    await method.release();
    await dense.release();
  }
  const metrics: Record<string, number> = {
    kv_cache_bytes: held,
    kept_token_ratio: kept / scored.length,
    decode_ms_per_token: median(msMethod),
    eval_examples: scored.length,
  };
  if (texts) {
    metrics.perplexity = Math.exp(nll / count);
    metrics.quality_delta = Math.exp(denseNll / count) - metrics.perplexity;
  } else {
    metrics.exact_match = correct / scored.length;
    metrics.quality_delta = metrics.exact_match - denseCorrect / scored.length;
  }
  if (msDense.length && msMethod.length) metrics.speedup = median(msDense) / median(msMethod);
  const ci = pairedRatioBootstrap(
    msDense.map((x) => [x]),
    msMethod.map((x) => [x]),
    (ctx.seed ^ 0x70c3) >>> 0,
  );
  if (ci) Object.assign(metrics, { speedup_lo: ci.lo, speedup_hi: ci.hi });
  metrics.tokens_per_s = 1000 / metrics.decode_ms_per_token;
  const notes = [
    `${describe} on ${scored.length} examples of ${ctx.dataset.id}; the dense cache decoded each example right before or after (order alternating); speedup = ratio of the medians of per-example ms per decode step${ci ? ", 95% interval by a paired bootstrap over examples" : ""}`,
    `dense: ${texts ? `perplexity ${Math.exp(denseNll / count).toFixed(3)}` : `exact match ${(denseCorrect / scored.length).toFixed(3)}`}, ${median(msDense).toFixed(2)} ms/token`,
    `kv_cache_bytes: largest cache held while decoding (after the prompt's eviction), from the cache tensors; the prompt's whole cache (${prefillPeak} bytes) is held at prefill`,
    `positions: ${positionMode(spec) === "rerotate" ? "within the cache, as the reference (the graph caches rotated keys: the next token's position carries an offset and only the sink keys are rotated at each eviction, which gives the same distances as re-rotating every kept key)" : "original positions kept, new tokens at their absolute position"}`,
    `the cache is cut where it lies: on the host under cpu and wasm, by a gather graph on the GPU-resident cache under webgpu (DecoderSession.keepPositions); this run: ${runtime}`,
  ];
  return { metrics, artifacts: [], notes, measured: { quality: true, speed: true } };
}
