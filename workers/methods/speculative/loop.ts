/**
 * The speculative decoding loop shared by every candidate generator, and the plain decoding it is
 * compared with.
 *
 * Cache bookkeeping (as in transformers' assisted decoding): the target's cache holds every token
 * of the sequence but the last emitted one. One verification step feeds that token and the k
 * drafted ones in a single forward with past (k + 1 logits rows), accepts n drafted tokens and emits
 * them plus the target's own next token, then crops the cache to the sequence minus that token.
 */
import { performance } from "node:perf_hooks";
import { argmax } from "../../eval/decoder-session";
import type { Decoder } from "../../eval/types";
import { sampleFrom, softmax, verifyGreedy, verifySampling } from "./verify";

export type Verification = "greedy" | "sampling";

export interface DecodeOptions {
  maxNew: number;
  /** Generation ends after any of these tokens (which is emitted). */
  stop?: ReadonlySet<number>;
  verification: Verification;
  /** Sampling temperature (applies to target and draft alike); ignored by greedy verification. */
  temperature: number;
  /** Uniform [0, 1) generator for sampling. */
  rng: () => number;
  /** Set to performance.now() when the first token is out (the target's prefill done), for timing decode apart from prefill. */
  marks?: { firstToken?: number };
}

/** A draft for the next positions: tokens and, for a sampled model draft, each position's distribution. */
export interface Draft {
  tokens: number[];
  /** q_i over the vocabulary per drafted token; null for a deterministic draft (one-hot q). */
  probs: Float64Array[] | null;
}

export interface CandidateGenerator {
  /** Called once per sequence with the prompt, before the first token. */
  start(prompt: readonly number[]): Promise<void>;
  /** Up to `max` tokens to follow `seq` (may return none: the step is then a plain one). */
  propose(seq: readonly number[], max: number, opts: DecodeOptions): Promise<Draft>;
  /** The target kept the first `kept` tokens of `seq` + draft; `seq` is the new sequence. */
  accepted(seq: readonly number[]): Promise<void>;
}

export interface SpecStats {
  /** Verification forwards of the target (the prefill that gives the first token is not counted). */
  targetCalls: number;
  /** Tokens those forwards emitted (accepted drafts plus each step's own token, cut at maxNew/stop). */
  emittedByCalls: number;
  proposed: number;
  accepted: number;
  /** Draft positions examined and rejected (at most one per step: the first mismatch). */
  rejections: number;
  /** Wall time spent inside the candidate generator. */
  draftMs: number;
}

export const emptyStats = (): SpecStats => ({ targetCalls: 0, emittedByCalls: 0, proposed: 0, accepted: 0, rejections: 0, draftMs: 0 });

export function addStats(a: SpecStats, b: SpecStats): SpecStats {
  return {
    targetCalls: a.targetCalls + b.targetCalls,
    emittedByCalls: a.emittedByCalls + b.emittedByCalls,
    proposed: a.proposed + b.proposed,
    accepted: a.accepted + b.accepted,
    rejections: a.rejections + b.rejections,
    draftMs: a.draftMs + b.draftMs,
  };
}

function pick(row: Float32Array, opts: DecodeOptions): number {
  return opts.verification === "greedy" ? argmax(row) : sampleFrom(softmax(row, opts.temperature), opts.rng);
}

function checkOptions(opts: DecodeOptions): void {
  if (!(Number.isInteger(opts.maxNew) && opts.maxNew >= 0)) throw new Error(`maxNew must be a non-negative integer, got ${opts.maxNew}`);
  if (opts.verification === "sampling" && !(opts.temperature > 0)) {
    throw new Error(`sampling verification needs temperature > 0 (got ${opts.temperature}); use verification "greedy" for argmax decoding`);
  }
}

/** Plain decoding: one target forward per token (greedy argmax or a sample at the temperature). */
export async function plainDecode(target: Decoder, prompt: readonly number[], opts: DecodeOptions): Promise<number[]> {
  checkOptions(opts);
  const out: number[] = [];
  if (opts.maxNew === 0) return out;
  let logits = await target.prefill([...prompt]);
  for (;;) {
    const next = pick(logits, opts);
    if (out.length === 0 && opts.marks) opts.marks.firstToken = performance.now();
    out.push(next);
    if (out.length >= opts.maxNew || opts.stop?.has(next)) return out;
    logits = await target.step(next);
  }
}

/** Speculative decoding of up to `maxNew` tokens after `prompt`, drafting up to `gamma` per step. */
export async function speculativeDecode(
  target: Decoder,
  generator: CandidateGenerator,
  prompt: readonly number[],
  gamma: number,
  opts: DecodeOptions,
): Promise<{ tokens: number[]; stats: SpecStats }> {
  checkOptions(opts);
  if (!(Number.isInteger(gamma) && gamma >= 1)) throw new Error(`gamma must be an integer >= 1, got ${gamma}`);
  const stats = emptyStats();
  const out: number[] = [];
  if (opts.maxNew === 0) return { tokens: out, stats };
  const V = target.shape.vocabSize;
  const maxPos = target.shape.maxPosition;
  let t0 = performance.now();
  await generator.start(prompt);
  stats.draftMs += performance.now() - t0;
  const first = pick(await target.prefill([...prompt]), opts);
  if (opts.marks) opts.marks.firstToken = performance.now();
  out.push(first);
  if (out.length >= opts.maxNew || opts.stop?.has(first)) return { tokens: out, stats };
  const seq = [...prompt, first];
  for (;;) {
    // Never draft past maxNew (the step's own token comes on top) or past the context.
    let room = Math.min(gamma, opts.maxNew - out.length - 1);
    if (maxPos !== null) room = Math.min(room, maxPos - seq.length);
    t0 = performance.now();
    const draft = room > 0 ? await generator.propose(seq, room, opts) : { tokens: [], probs: null };
    stats.draftMs += performance.now() - t0;
    const k = draft.tokens.length;
    if (k > room) throw new Error(`candidate generator proposed ${k} tokens, at most ${room} were asked for`);
    const base = seq.length - 1; // tokens in the target's cache
    if (target.pastLength !== base) throw new Error(`target cache holds ${target.pastLength} tokens, expected ${base}`);
    const logits = await target.extend([seq[base], ...draft.tokens]);
    stats.targetCalls++;
    const row = (i: number) => logits.subarray(i * V, (i + 1) * V);
    const verdict =
      opts.verification === "greedy"
        ? verifyGreedy(draft.tokens, row)
        : verifySampling(draft.tokens, (i) => softmax(row(i), opts.temperature), draft.probs ? (i) => (draft.probs as Float64Array[])[i] : null, opts.rng);
    stats.proposed += k;
    stats.accepted += verdict.accepted;
    if (verdict.accepted < k) stats.rejections++;
    const emit = [...draft.tokens.slice(0, verdict.accepted), verdict.next];
    let done = false;
    let emitted = 0;
    for (const t of emit) {
      out.push(t);
      seq.push(t);
      emitted++;
      if (out.length >= opts.maxNew || opts.stop?.has(t)) {
        done = true;
        break;
      }
    }
    stats.emittedByCalls += emitted;
    if (done) return { tokens: out, stats };
    // Keep the step's input token and the accepted drafts; the new last token is fed next step.
    await target.truncate(seq.length - 1);
    t0 = performance.now();
    await generator.accepted(seq);
    stats.draftMs += performance.now() - t0;
  }
}

/** Leviathan et al.'s expected tokens per target call for per-token acceptance α and γ drafts. */
export function expectedTokensPerCall(alpha: number, gamma: number): number {
  if (alpha >= 1) return gamma + 1;
  return (1 - alpha ** (gamma + 1)) / (1 - alpha);
}

/** Leviathan et al.'s predicted walltime speedup: E[tokens per call] / (γc + 1). */
export function predictedSpeedup(alpha: number, gamma: number, c: number): number {
  return expectedTokensPerCall(alpha, gamma) / (gamma * c + 1);
}

/**
 * α as Leviathan et al. model it (each drafted token accepted with probability α until the first
 * rejection): accepted / (accepted + rejections), the estimate from the positions actually
 * examined. Null when nothing was drafted.
 */
export function estimateAlpha(s: Pick<SpecStats, "accepted" | "rejections">): number | null {
  const n = s.accepted + s.rejections;
  return n > 0 ? s.accepted / n : null;
}
