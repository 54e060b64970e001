/**
 * What spec.draft and spec.prompt-lookup share: the dataset's prompts, plain and speculative
 * decoding of each timed back to back (order alternating), the greedy identity check, and the
 * metrics (acceptance, mean accepted tokens, measured and predicted speedup, draft cost ratio).
 */
import { performance } from "node:perf_hooks";
import { median } from "../../eval/bench";
import { readDataset, splitExamples } from "../../eval/dataset";
import { argmax } from "../../eval/decoder-session";
import { pairedRatioBootstrap } from "../../eval/intervals";
import type { Decoder, TextTokenizer } from "../../eval/types";
import type { DatasetRef } from "../../types";
import type { MethodContext, MethodResult } from "../types";
import {
  addStats,
  type CandidateGenerator,
  type DecodeOptions,
  emptyStats,
  estimateAlpha,
  plainDecode,
  predictedSpeedup,
  type SpecStats,
  speculativeDecode,
  type Verification,
} from "./loop";

export interface SpecRunOptions {
  /** Prompts timed (after `warmup` untimed ones). */
  prompts: number;
  /** Tokens generated per prompt (fewer where the context is shorter). */
  maxNew: number;
  warmup: number;
  /** Generation ends at the end-of-text token (else always `maxNew` tokens). */
  stopAtEos: boolean;
  /** Tokens of a perplexity text used as the prompt. */
  textPromptTokens: number;
  /** Single-token steps timed per prompt for the draft/target cost ratio. */
  costSteps: number;
}

/**
 * 16 timed prompts of 32 new tokens: a zoo-base run (plain + speculative per prompt) takes a few
 * seconds on the 2-core test box (npm run bench:spec's 16-prompt speedup intervals there, at load
 * average 10, were 0.17 to 2.1 wide); generation does not stop at end-of-text, so every prompt
 * gives the same number of tokens to time.
 */
export const DEFAULT_SPEC_RUN: SpecRunOptions = { prompts: 16, maxNew: 32, warmup: 2, stopAtEos: false, textPromptTokens: 16, costSteps: 8 };

/** Prompts of the dataset's examples in the run's seeded order (the order quality scoring uses). */
export function generationPrompts(
  dataset: Pick<DatasetRef, "file" | "task">,
  tokenizer: TextTokenizer,
  seed: number,
  n: number,
  opts: { maxNew: number; maxPosition: number | null; textPromptTokens: number },
): number[][] {
  const data = readDataset(dataset);
  const { scored } = splitExamples<{ prompt?: string; text?: string }>(data.examples, seed, n);
  const limit = opts.maxPosition === null ? Infinity : opts.maxPosition - opts.maxNew;
  if (limit < 1) throw new Error(`the context of ${opts.maxPosition} tokens leaves no room for a prompt and ${opts.maxNew} new tokens`);
  const out: number[][] = [];
  for (const ex of scored) {
    let ids: number[];
    if (ex.text !== undefined) {
      const body = tokenizer.encode(ex.text).slice(0, opts.textPromptTokens);
      ids = tokenizer.eosId !== null ? [tokenizer.eosId, ...body] : body;
    } else ids = tokenizer.encode(ex.prompt ?? "");
    if (ids.length > limit) ids = ids.slice(ids.length - limit);
    if (ids.length >= 1) out.push(ids);
  }
  if (out.length === 0) throw new Error(`dataset ${dataset.file} gave no prompt to generate from`);
  return out;
}

export interface SpecMethod {
  gamma: number;
  verification: Verification;
  temperature: number;
  generator: CandidateGenerator;
  /**
   * ms of one draft proposal step for the cost ratio c, timed on `seq` (a draft forward of one token
   * with past for a draft model; one lookup for prompt lookup).
   */
  timeDraftStep(seq: number[]): Promise<number>;
  /** What the draft is, for the notes. */
  describe: string;
}

export interface SpecMeasurement {
  stats: SpecStats;
  plainMs: number[];
  specMs: number[];
  plainTokens: number;
  specTokens: number;
  targetStepMs: number[];
  draftStepMs: number[];
  /** Prompts whose speculative output differed from plain decoding (greedy only). */
  mismatches: number;
  prompts: number;
}

/** ms per token after the first (the decode time covers tokens 2..n). */
const perToken = (ms: number[], tokens: number[]) => ms.map((m, i) => m / Math.max(1, tokens[i] - 1));

/**
 * Decodes every prompt plainly and speculatively, back to back (plain first on even prompts,
 * speculative first on odd ones), and times both from the first token on (ms per later token); then
 * times single-token target and draft steps interleaved for c.
 */
export async function measureSpeculative(
  target: Decoder,
  method: SpecMethod,
  prompts: number[][],
  opts: SpecRunOptions,
  rng: () => number,
  stop: ReadonlySet<number>,
  onProgress?: (f: number) => void,
): Promise<SpecMeasurement & { plainPerToken: number[]; specPerToken: number[] }> {
  const dec = (maxNew: number, marks: { firstToken?: number }): DecodeOptions => ({
    maxNew,
    stop,
    verification: method.verification,
    temperature: method.temperature,
    rng,
    marks,
  });
  let stats = emptyStats();
  const plainMs: number[] = [];
  const specMs: number[] = [];
  const plainCounts: number[] = [];
  const specCounts: number[] = [];
  let mismatches = 0;
  const maxPos = target.shape.maxPosition;
  const total = opts.warmup + prompts.length;
  for (let i = 0; i < total; i++) {
    const prompt = prompts[i % prompts.length];
    const maxNew = maxPos === null ? opts.maxNew : Math.min(opts.maxNew, maxPos - prompt.length);
    const timed = i >= opts.warmup;
    // Decode time: from the first token (the target's prefill done) to the last.
    const runPlain = async () => {
      const marks: { firstToken?: number } = {};
      const tokens = await plainDecode(target, prompt, dec(maxNew, marks));
      return { tokens, ms: performance.now() - (marks.firstToken ?? Number.NaN) };
    };
    const runSpec = async () => {
      const marks: { firstToken?: number } = {};
      const r = await speculativeDecode(target, method.generator, prompt, method.gamma, dec(maxNew, marks));
      return { ...r, ms: performance.now() - (marks.firstToken ?? Number.NaN) };
    };
    let plain: Awaited<ReturnType<typeof runPlain>>;
    let spec: Awaited<ReturnType<typeof runSpec>>;
    if (i % 2 === 0) {
      plain = await runPlain();
      spec = await runSpec();
    } else {
      spec = await runSpec();
      plain = await runPlain();
    }
    if (method.verification === "greedy" && !sameTokens(plain.tokens, spec.tokens)) mismatches++;
    if (timed) {
      stats = addStats(stats, spec.stats);
      plainMs.push(plain.ms);
      specMs.push(spec.ms);
      plainCounts.push(plain.tokens.length);
      specCounts.push(spec.tokens.length);
    }
    onProgress?.((i + 1) / (total + 1));
  }
  // c: one-token target steps and draft steps, interleaved, after each prompt's prefill.
  const targetStepMs: number[] = [];
  const draftStepMs: number[] = [];
  for (const prompt of prompts.slice(0, Math.max(2, Math.ceil(prompts.length / 4)))) {
    let logits = await target.prefill(prompt);
    const seq = [...prompt];
    const steps = maxPos === null ? opts.costSteps : Math.min(opts.costSteps, maxPos - prompt.length - 1);
    for (let s = 0; s < steps; s++) {
      const t = argmax(logits);
      seq.push(t);
      const t0 = performance.now();
      logits = await target.step(t);
      targetStepMs.push(performance.now() - t0);
      draftStepMs.push(await method.timeDraftStep(seq));
    }
  }
  onProgress?.(1);
  return {
    stats,
    plainMs,
    specMs,
    plainTokens: plainCounts.reduce((a, b) => a + b, 0),
    specTokens: specCounts.reduce((a, b) => a + b, 0),
    targetStepMs,
    draftStepMs,
    mismatches,
    prompts: plainMs.length,
    plainPerToken: perToken(plainMs, plainCounts),
    specPerToken: perToken(specMs, specCounts),
  };
}

function sameTokens(a: readonly number[], b: readonly number[]): boolean {
  return a.length === b.length && a.every((t, i) => t === b[i]);
}

const SPEEDUP_SALT = 0x51ec0de;

/** The run's metrics from a measurement (speedup with its paired 95% interval, α, c, predicted speedup). */
export function specMetrics(
  m: Awaited<ReturnType<typeof measureSpeculative>>,
  gamma: number,
  seed: number,
): { metrics: Record<string, number>; notes: string[] } {
  const metrics: Record<string, number> = {};
  const notes: string[] = [];
  const { stats } = m;
  if (stats.proposed > 0) metrics.acceptance_rate = stats.accepted / stats.proposed;
  if (stats.targetCalls > 0) metrics.mean_accepted_tokens = stats.emittedByCalls / stats.targetCalls;
  const alpha = estimateAlpha(stats);
  if (alpha !== null) metrics.spec_alpha = alpha;
  const plain = median(m.plainPerToken);
  const spec = median(m.specPerToken);
  metrics.decode_ms_per_token = spec;
  metrics.tokens_per_s = 1000 / spec;
  metrics.speedup = plain / spec;
  const ci = pairedRatioBootstrap(
    m.plainPerToken.map((x) => [x]),
    m.specPerToken.map((x) => [x]),
    (seed ^ SPEEDUP_SALT) >>> 0,
  );
  if (ci) Object.assign(metrics, { speedup_lo: ci.lo, speedup_hi: ci.hi });
  const c = median(m.draftStepMs) / median(m.targetStepMs);
  if (Number.isFinite(c)) metrics.draft_cost_ratio = c;
  if (alpha !== null && Number.isFinite(c)) metrics.predicted_speedup = predictedSpeedup(alpha, gamma, c);
  notes.push(
    `speculative decoding timed against plain decoding of the same target on ${m.prompts} prompts, back to back per prompt (order alternating), ` +
      `from the first token on (the target's prefill excluded, a draft model's included): plain ${(1000 / plain).toFixed(1)} tokens/s, speculative ${(1000 / spec).toFixed(1)} tokens/s; ` +
      `speedup = ratio of the medians of per-prompt ms per token${ci ? ", 95% interval by a paired bootstrap over prompts" : ""}`,
  );
  notes.push(
    `${stats.targetCalls} verification calls: ${stats.accepted} of ${stats.proposed} drafted tokens accepted; ` +
      `mean_accepted_tokens = tokens emitted per target call including its own token (1.00 for plain decoding)`,
  );
  if (alpha !== null && Number.isFinite(c)) {
    notes.push(
      `predicted_speedup = (1 - a^(g+1)) / (1 - a) / (g c + 1) (Leviathan et al.) with a = ${alpha.toFixed(3)} ` +
        `(accepted / (accepted + rejections)), g = ${gamma}, c = ${c.toFixed(3)} (median draft step / median target step, ` +
        `${m.targetStepMs.length} steps each); it assumes verifying g + 1 tokens costs one step`,
    );
  }
  return { metrics, notes };
}

/** The executor body: prompts from the run's dataset, measurement, quality of the target, metrics. */
export async function runSpeculative(ctx: MethodContext, target: Decoder, method: SpecMethod, opts: SpecRunOptions = DEFAULT_SPEC_RUN): Promise<MethodResult> {
  const tokenizer = ctx.tokenizer;
  if (ctx.shapeOnly || !tokenizer) {
    throw new Error(
      `speculative decoding needs a trained model with a tokenizer: ${ctx.model.id} ${ctx.shapeOnly ? "has random weights" : "has no tokenizer"}, ` +
        "so no draft would ever be accepted for a meaningful reason (npm run bench:spec measures the shape models' verification costs)",
    );
  }
  const prompts = generationPrompts(ctx.dataset, tokenizer, ctx.seed, opts.prompts, {
    maxNew: opts.maxNew,
    maxPosition: target.shape.maxPosition,
    textPromptTokens: opts.textPromptTokens,
  });
  const stop = new Set<number>(opts.stopAtEos && tokenizer.eosId !== null ? [tokenizer.eosId] : []);
  ctx.reporter.stage("speculative decoding", 0.45);
  const m = await measureSpeculative(target, method, prompts, opts, ctx.rng, stop, (f) => ctx.reporter.progress(0.45 + 0.35 * f));
  if (m.mismatches > 0) {
    throw new Error(
      `greedy speculative decoding (${method.describe}, gamma ${method.gamma}) differed from plain greedy decoding of the target on ` +
        `${m.mismatches} of ${m.prompts + opts.warmup} prompts: the verification or the cache crop is wrong`,
    );
  }
  const { metrics, notes } = specMetrics(m, method.gamma, ctx.seed);
  notes.unshift(
    `${method.describe}, gamma ${method.gamma}, ${method.verification} verification${method.verification === "sampling" ? ` at temperature ${method.temperature}` : ""}; ` +
      `${m.prompts} prompts of ${ctx.dataset.id} (+${opts.warmup} warmup) x up to ${opts.maxNew} new tokens`,
  );
  if (method.verification === "greedy") {
    metrics.output_matches_target = 1;
    notes.push(`output identical to plain greedy decoding of the target on all ${m.prompts + opts.warmup} prompts (checked token by token)`);
  } else {
    notes.push("sampling verification: outputs follow the target's sampling distribution; they are not compared token by token");
  }
  ctx.reporter.stage("quality", 0.8);
  const q = await ctx.evaluateQuality(ctx.modelPath);
  Object.assign(metrics, q.metrics);
  notes.push(
    "quality is the target's own: greedy verification emits exactly the target's greedy tokens (asserted above), and sampling verification samples from the target's distribution",
    ...q.notes,
  );
  return { metrics, artifacts: [], notes, measured: { quality: true, speed: true } };
}
