/**
 * Quality and speed under a KV policy, shared by the executors and `npm run bench:tokens`: exact
 * match of greedy answers (passkey, recall) and perplexity of long streams fed token by token, with
 * the peak KV-cache bytes (from the cache tensors held) and the kept-token ratio.
 */
import fs from "node:fs";
import path from "node:path";
import { performance } from "node:perf_hooks";
import { median } from "../../eval/bench";
import { openDecoder, type DecoderSession } from "../../eval/decoder-session";
import type { TextTokenizer } from "../../eval/types";
import { exposeAttentionScores } from "./attention-graph";
import { KvPolicyState, generateWithPolicy, needsAttention, streamNll, type KvPolicySpec } from "./kv-decode";

export { median };

export interface AnswerExample {
  prompt: string;
  answer: string;
}

export interface PolicyScores {
  exact_match?: number;
  perplexity?: number;
  /** Largest KV cache held while decoding (after the prompt's eviction), from the cache tensors. */
  kv_cache_bytes: number;
  /** Largest KV cache held at all: the whole prompt's, at prefill. */
  peak_prefill_kv_bytes: number;
  kept_token_ratio: number;
  decode_ms_per_token: number;
  examples: number;
}

/** rope theta from the config.json beside a model (10000 when it does not say). */
export function ropeTheta(modelPath: string): number {
  const file = path.join(path.dirname(modelPath), "config.json");
  if (!fs.existsSync(file)) return 10000;
  const c = JSON.parse(fs.readFileSync(file, "utf8")) as Record<string, unknown>;
  return typeof c.rope_theta === "number" ? c.rope_theta : 10000;
}

/**
 * Opens the decoder a policy needs: the model itself, or for H2O/SnapKV a copy rewritten to output
 * attention scores (written once into `workDir`, config.json beside it).
 */
export async function openForPolicy(
  modelPath: string,
  spec: KvPolicySpec,
  workDir: string,
  runtime: "cpu" | "webgpu" | "wasm" = "cpu",
): Promise<DecoderSession> {
  if (!needsAttention(spec)) return openDecoder(modelPath, runtime);
  const out = path.join(workDir, "attn", "model.onnx");
  if (!fs.existsSync(out)) {
    fs.mkdirSync(path.dirname(out), { recursive: true });
    const plain = await openDecoder(modelPath, runtime);
    const layers = plain.shape.numLayers;
    await plain.release();
    exposeAttentionScores(modelPath, out, layers);
    const cfg = path.join(path.dirname(modelPath), "config.json");
    if (fs.existsSync(cfg)) fs.copyFileSync(cfg, path.join(path.dirname(out), "config.json"));
  }
  return openDecoder(out, runtime, { configPath: path.join(path.dirname(modelPath), "config.json") });
}

/** Greedy answers under the policy; correct when the trimmed text up to a newline equals the answer. */
export async function answerQuality(
  session: DecoderSession,
  tok: TextTokenizer,
  spec: KvPolicySpec,
  examples: AnswerExample[],
  theta: number,
): Promise<PolicyScores> {
  const stop = answerStopIds(tok);
  let correct = 0;
  let peak = 0;
  let prefillPeak = 0;
  let kept = 0;
  const ms: number[] = [];
  for (const ex of examples) {
    const state = new KvPolicyState(session, spec, theta);
    const r = await generateWithPolicy(state, tok.encode(ex.prompt), tok.encode(ex.answer).length + 2, stop);
    const text = tok.decode(r.tokens).split("\n")[0];
    if (text.trim() === ex.answer.trim()) correct++;
    peak = Math.max(peak, r.decodeKvBytes);
    prefillPeak = Math.max(prefillPeak, r.peakKvBytes);
    kept += r.keptRatio;
    ms.push(...r.decodeMs);
  }
  return {
    exact_match: correct / examples.length,
    kv_cache_bytes: peak,
    peak_prefill_kv_bytes: prefillPeak,
    kept_token_ratio: kept / examples.length,
    decode_ms_per_token: median(ms),
    examples: examples.length,
  };
}

/** Perplexity of token streams fed one token at a time under the policy. */
export async function streamQuality(session: DecoderSession, spec: KvPolicySpec, streams: number[][], theta: number): Promise<PolicyScores> {
  let nll = 0;
  let n = 0;
  let peak = 0;
  let prefillPeak = 0;
  let kept = 0;
  const ms: number[] = [];
  for (const ids of streams) {
    const state = new KvPolicyState(session, spec, theta);
    const t0 = performance.now();
    const per = await streamNll(state, ids);
    ms.push((performance.now() - t0) / ids.length);
    for (const x of per) nll += x;
    n += per.length;
    peak = Math.max(peak, state.decodeKvBytes);
    prefillPeak = Math.max(prefillPeak, state.peakKvBytes);
    kept += state.keptRatio;
  }
  return {
    perplexity: Math.exp(nll / n),
    kv_cache_bytes: peak,
    peak_prefill_kv_bytes: prefillPeak,
    kept_token_ratio: kept / streams.length,
    decode_ms_per_token: median(ms),
    examples: streams.length,
  };
}

/**
 * Where a greedy answer ends: the newline token (when the tokenizer encodes it as one) and
 * end-of-text.
 */
export function answerStopIds(tok: TextTokenizer): Set<number> {
  const nl = tok.encode("\n");
  return new Set<number>([...(nl.length === 1 ? nl : []), ...(tok.eosId !== null ? [tok.eosId] : [])]);
}
