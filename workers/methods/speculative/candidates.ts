/**
 * Candidate generators for the speculative loop: a draft model (its own decoder and KV cache) and
 * prompt lookup (n-gram match against the sequence itself).
 */
import fs from "node:fs";
import { argmax } from "../../eval/decoder-session";
import type { Decoder } from "../../eval/types";
import { promptLookup } from "./lookup";
import type { CandidateGenerator, DecodeOptions, Draft } from "./loop";
import { sampleFrom, softmax } from "./verify";

/**
 * A smaller model with the target's vocabulary drafts `max` tokens autoregressively (argmax under
 * greedy verification, samples from q = softmax(logits / T) under sampling). Its cache keeps the
 * longest prefix it shares with the sequence, so after a step it is cropped to what the target
 * accepted and only the new tokens are fed (with past) on the next.
 */
export class DraftModelGenerator implements CandidateGenerator {
  /** Tokens the draft's cache holds. */
  private cached: number[] = [];

  constructor(readonly draft: Decoder) {}

  async start(): Promise<void> {
    this.draft.reset();
    this.cached = [];
  }

  async propose(seq: readonly number[], max: number, opts: DecodeOptions): Promise<Draft> {
    const maxPos = this.draft.shape.maxPosition;
    if (maxPos !== null) max = Math.min(max, maxPos - seq.length + 1);
    if (max <= 0) return { tokens: [], probs: null };
    let common = 0;
    while (common < this.cached.length && common < seq.length - 1 && this.cached[common] === seq[common]) common++;
    await this.draft.truncate(common);
    const V = this.draft.shape.vocabSize;
    const fed = seq.slice(common);
    const all = await this.draft.extend(fed);
    let row = all.subarray(all.length - V);
    const tokens: number[] = [];
    const probs: Float64Array[] = [];
    for (let i = 0; i < max; i++) {
      let t: number;
      if (opts.verification === "greedy") t = argmax(row);
      else {
        const q = softmax(row, opts.temperature);
        t = sampleFrom(q, opts.rng);
        probs.push(q);
      }
      tokens.push(t);
      if (i < max - 1) row = await this.draft.step(t);
    }
    this.cached = [...seq, ...tokens.slice(0, -1)];
    return { tokens, probs: opts.verification === "greedy" ? null : probs };
  }

  async accepted(): Promise<void> {
    // Cropped lazily in propose, to the prefix the draft shares with the new sequence.
  }
}

/** Prompt lookup: a deterministic draft, no model. */
export class PromptLookupGenerator implements CandidateGenerator {
  constructor(readonly ngram: number) {}

  async start(): Promise<void> {}

  async propose(seq: readonly number[], max: number): Promise<Draft> {
    return { tokens: promptLookup(seq, this.ngram, max), probs: null };
  }

  async accepted(): Promise<void> {}
}

/**
 * Throws unless the draft can stand in for the target token for token: the same logits width and,
 * when both models ship a tokenizer, the same vocabulary and added tokens.
 */
export function checkSameVocabulary(
  target: { id: string; vocabSize: number; tokenizerPath: string | null },
  draft: { id: string; vocabSize: number; tokenizerPath: string | null },
): void {
  if (target.vocabSize !== draft.vocabSize) {
    throw new Error(
      `draft model ${draft.id} has a vocabulary of ${draft.vocabSize} tokens and the target ${target.id} one of ${target.vocabSize}: ` +
        "a draft model must share the target's tokenizer",
    );
  }
  if (target.tokenizerPath && draft.tokenizerPath) {
    const vocab = (file: string) => {
      const j = JSON.parse(fs.readFileSync(file, "utf8")) as { model?: { vocab?: unknown; merges?: unknown }; added_tokens?: unknown };
      return JSON.stringify([j.model?.vocab ?? null, j.model?.merges ?? null, j.added_tokens ?? null]);
    };
    if (vocab(target.tokenizerPath) !== vocab(draft.tokenizerPath)) {
      throw new Error(
        `draft model ${draft.id} has a different tokenizer from the target ${target.id} (same size, other tokens): ` +
          "a draft model must share the target's tokenizer",
      );
    }
  }
}
