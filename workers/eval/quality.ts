/**
 * Quality metrics of a decoder on a dataset (docs/datasets.md). Every function scores exactly the
 * examples it is given; selection (seeded shuffle, first N) happens in evaluateQuality.
 */
import { primaryQualityMetric } from "../../lib/metrics";
import type { DatasetRef } from "../types";
import { argmax, logSoftmaxAt } from "./decoder-session";
import { readDataset, splitExamples, type ExactMatchExample, type MultipleChoiceExample } from "./dataset";
import type { Decoder, MeasuredMetrics, QualityOptions, TextTokenizer } from "./types";

export const DEFAULT_QUALITY: QualityOptions = { maxExamples: 200, maxTokensPerText: 512 };

export interface NllScore {
  /** Sum of -log p over the scored tokens, in nats. */
  nll: number;
  tokens: number;
}

/**
 * Negative log-likelihood of ids[1..] given the preceding ids, in one forward with no cache
 * (the first id is context only).
 */
export async function scoreTokens(decoder: Decoder, ids: number[]): Promise<NllScore> {
  if (ids.length < 2) return { nll: 0, tokens: 0 };
  const V = decoder.shape.vocabSize;
  const logits = await decoder.forwardFull(ids.slice(0, -1));
  let nll = 0;
  for (let i = 1; i < ids.length; i++) nll -= logSoftmaxAt(logits.subarray((i - 1) * V, i * V), ids[i]);
  return { nll, tokens: ids.length - 1 };
}

function contextLimit(decoder: Decoder, cap: number): number {
  const max = decoder.shape.maxPosition;
  return max === null ? cap : Math.min(cap, max);
}

/** One text's contribution to perplexity: its scored tokens' NLL sum, their count and UTF-8 bytes. */
export interface TextScore extends NllScore {
  /** UTF-8 bytes of the scored text (the whole text, or the decoded kept tokens when truncated). */
  bytes: number;
  /** Whether the text was longer than the context and lost its first tokens. */
  truncated: boolean;
}

/**
 * Scores each text on its own, in order: the end-of-text token, when the tokenizer has one, is
 * prepended as context so the first token of each text is scored too; texts longer than the context
 * keep their last tokens. evaluatePerplexity sums these; paired comparisons of two models resample them.
 */
export async function scoreTexts(
  decoder: Decoder,
  tokenizer: TextTokenizer,
  texts: string[],
  options: QualityOptions = DEFAULT_QUALITY,
  onProgress?: (fraction: number) => void,
): Promise<TextScore[]> {
  const limit = contextLimit(decoder, options.maxTokensPerText);
  const out: TextScore[] = [];
  for (const [k, text] of texts.entries()) {
    const body = tokenizer.encode(text);
    let ids = tokenizer.eosId !== null ? [tokenizer.eosId, ...body] : body;
    const wholeTextScored = tokenizer.eosId !== null && ids.length <= limit;
    const truncated = ids.length > limit;
    if (truncated) ids = ids.slice(ids.length - limit);
    const s = await scoreTokens(decoder, ids);
    const bytes = wholeTextScored ? Buffer.byteLength(text, "utf8") : Buffer.byteLength(tokenizer.decode(ids.slice(1)), "utf8");
    out.push({ nll: s.nll, tokens: s.tokens, bytes, truncated });
    onProgress?.((k + 1) / texts.length);
  }
  return out;
}

/**
 * perplexity = exp(total NLL / scored tokens); bits_per_byte = total NLL / ln 2 / UTF-8 bytes of
 * the scored text, over the per-text scores of scoreTexts.
 */
export async function evaluatePerplexity(
  decoder: Decoder,
  tokenizer: TextTokenizer,
  texts: string[],
  options: QualityOptions = DEFAULT_QUALITY,
  onProgress?: (fraction: number) => void,
): Promise<MeasuredMetrics> {
  const limit = contextLimit(decoder, options.maxTokensPerText);
  const scores = await scoreTexts(decoder, tokenizer, texts, options, onProgress);
  let nll = 0;
  let tokens = 0;
  let bytes = 0;
  let truncated = 0;
  for (const s of scores) {
    nll += s.nll;
    tokens += s.tokens;
    bytes += s.bytes;
    if (s.truncated) truncated++;
  }
  if (tokens === 0) throw new Error("perplexity: no text long enough to score (need at least 2 tokens)");
  const notes = [`perplexity over ${texts.length} texts, ${tokens} scored tokens, ${bytes} UTF-8 bytes`];
  if (truncated) notes.push(`${truncated} texts longer than ${limit} tokens were truncated from the left`);
  return {
    metrics: { perplexity: Math.exp(nll / tokens), bits_per_byte: nll / Math.LN2 / bytes, eval_examples: texts.length, eval_tokens: tokens },
    notes,
  };
}

/**
 * Greedy generation of up to len(answer tokens) + 2 tokens, stopped at the end-of-text token or a
 * newline; correct when the trimmed generation equals the trimmed answer.
 */
export async function evaluateExactMatch(
  decoder: Decoder,
  tokenizer: TextTokenizer,
  examples: ExactMatchExample[],
  onProgress?: (fraction: number) => void,
): Promise<MeasuredMetrics> {
  let correct = 0;
  let truncated = 0;
  for (const [k, ex] of examples.entries()) {
    const maxNew = tokenizer.encode(ex.answer).length + 2;
    let prompt = tokenizer.encode(ex.prompt);
    const max = decoder.shape.maxPosition;
    if (max !== null && prompt.length + maxNew > max) {
      prompt = prompt.slice(prompt.length - (max - maxNew));
      truncated++;
    }
    const text = await greedyUntilNewline(decoder, tokenizer, prompt, maxNew);
    if (text.trim() === ex.answer.trim()) correct++;
    onProgress?.((k + 1) / examples.length);
  }
  const notes = [`exact match: ${correct}/${examples.length} greedy generations equal the answer`];
  if (truncated) notes.push(`${truncated} prompts longer than the context were truncated from the left`);
  return { metrics: { exact_match: correct / examples.length, eval_examples: examples.length }, notes };
}

/** Greedy continuation of `prompt`, cut at the first newline or end-of-text token. */
export async function greedyUntilNewline(decoder: Decoder, tokenizer: TextTokenizer, prompt: number[], maxNew: number): Promise<string> {
  const gen: number[] = [];
  let logits = await decoder.prefill(prompt);
  for (;;) {
    const next = argmax(logits);
    if (next === tokenizer.eosId) break;
    gen.push(next);
    const text = tokenizer.decode(gen);
    const nl = text.indexOf("\n");
    if (nl >= 0) return text.slice(0, nl);
    if (gen.length >= maxNew) return text;
    logits = await decoder.step(next);
  }
  return tokenizer.decode(gen);
}

/** Splits prompt+choice into context and continuation tokens the way the model sees the joined text. */
export function choiceTokens(tokenizer: TextTokenizer, prompt: string, choice: string): { context: number[]; continuation: number[] } {
  const context = tokenizer.encode(prompt);
  const whole = tokenizer.encode(prompt + choice);
  const aligned = whole.length > context.length && context.every((t, i) => whole[i] === t);
  return { context, continuation: aligned ? whole.slice(context.length) : tokenizer.encode(choice) };
}

/** Sum of log-probabilities of each choice's tokens given the prompt; argmax is the answer. */
export async function evaluateMultipleChoice(
  decoder: Decoder,
  tokenizer: TextTokenizer,
  examples: MultipleChoiceExample[],
  onProgress?: (fraction: number) => void,
): Promise<MeasuredMetrics> {
  let correct = 0;
  let truncated = 0;
  for (const [k, ex] of examples.entries()) {
    const scores: number[] = [];
    for (const choice of ex.choices) {
      let { context, continuation } = choiceTokens(tokenizer, ex.prompt, choice);
      const max = decoder.shape.maxPosition;
      if (max !== null && context.length + continuation.length > max) {
        context = context.slice(context.length + continuation.length - max);
        truncated++;
      }
      const lp = await decoder.logprobs(context, continuation);
      scores.push(lp.reduce((a, b) => a + b, 0));
    }
    if (argmaxNumbers(scores) === ex.label) correct++;
    onProgress?.((k + 1) / examples.length);
  }
  const notes = [`multiple choice: ${correct}/${examples.length} by summed log-likelihood`];
  if (truncated) notes.push(`${truncated} prompt+choice pairs longer than the context were truncated from the left`);
  return { metrics: { accuracy: correct / examples.length, eval_examples: examples.length }, notes };
}

function argmaxNumbers(xs: number[]): number {
  let best = 0;
  for (let i = 1; i < xs.length; i++) if (xs[i] > xs[best]) best = i;
  return best;
}

/** The metric quality_delta is computed on, per task (lib/metrics, shared with the dashboard). */
export const primaryMetric: (task: DatasetRef["task"]) => "perplexity" | "exact_match" | "accuracy" = primaryQualityMetric;

/** Scores the first `maxExamples` examples of the dataset after a shuffle seeded with `seed`. */
export async function evaluateDataset(
  decoder: Decoder,
  tokenizer: TextTokenizer,
  dataset: Pick<DatasetRef, "file" | "task">,
  seed: number,
  options: QualityOptions = DEFAULT_QUALITY,
  onProgress?: (fraction: number) => void,
): Promise<MeasuredMetrics> {
  const data = readDataset(dataset);
  let result: MeasuredMetrics;
  let total: number;
  switch (data.task) {
    case "perplexity": {
      const { scored } = splitExamples(data.examples, seed, options.maxExamples);
      total = data.examples.length;
      result = await evaluatePerplexity(
        decoder,
        tokenizer,
        scored.map((e) => e.text),
        options,
        onProgress,
      );
      break;
    }
    case "exact-match":
    case "recall": {
      const { scored } = splitExamples(data.examples, seed, options.maxExamples);
      total = data.examples.length;
      result = await evaluateExactMatch(decoder, tokenizer, scored, onProgress);
      break;
    }
    case "multiple-choice": {
      const { scored } = splitExamples(data.examples, seed, options.maxExamples);
      total = data.examples.length;
      result = await evaluateMultipleChoice(decoder, tokenizer, scored, onProgress);
      break;
    }
  }
  result.notes.unshift(`${data.task}: scored ${result.metrics.eval_examples} of ${total} examples after a shuffle with seed ${seed}`);
  return result;
}
