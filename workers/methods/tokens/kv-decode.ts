/**
 * Decoding under a KV-cache policy on a DecoderSession: prefill, optional eviction of the prompt's
 * entries (SnapKV), then token by token with eviction after each step (StreamingLLM, H2O). The
 * cache is cut with DecoderSession.keepPositions, per layer and per kv head.
 *
 * Positions: StreamingLLM uses positions within the cache (as the reference does); the graph caches
 * rotated keys, so the distances of positions within the cache are kept by an offset on the next
 * token's position and a rotation of the sink keys (afterStep; "rerotate"). H2O and SnapKV
 * keep each entry at its original position and continue new tokens at their absolute position, as
 * their reference code does ("absolute").
 */
import { performance } from "node:perf_hooks";
import type { DecoderSession } from "../../eval/decoder-session";
import { layerKvHeads } from "../../eval/types";
import { groupScores, h2oKeep, h2oRecent, snapkvKeep, streamingKeep } from "./policies";

export type PositionMode = "rerotate" | "absolute";

export type KvPolicySpec =
  | { kind: "dense" }
  | { kind: "streaming"; sinks: number; window: number }
  | { kind: "h2o"; budget: number; recentRatio: number }
  | { kind: "snapkv"; budget: number; window: number; kernel: number };

export const needsAttention = (p: KvPolicySpec) => p.kind === "h2o" || p.kind === "snapkv";
export const positionMode = (p: KvPolicySpec): PositionMode => (p.kind === "streaming" ? "rerotate" : "absolute");

/** The running state of one sequence under a policy. */
export class KvPolicyState {
  /** H2O: accumulated score per layer, per kv head, per cache entry. */
  private hh: Float64Array[][] = [];
  /**
   * StreamingLLM only: the sequence index of the token in each cache slot. Slots are not in sequence
   * order (an evicted slot takes a newer entry; attention does not depend on slot order).
   */
  private seq: number[] = [];
  /** Largest cache held at any point, the whole prompt's at prefill included. */
  peakKvBytes = 0;
  /** Largest cache held while decoding, after the prompt's eviction. */
  decodeKvBytes = 0;
  /** Entries evicted over the sequence, and entries the dense cache would hold at the end. */
  evicted = 0;
  seen = 0;

  constructor(
    readonly session: DecoderSession,
    readonly spec: KvPolicySpec,
    readonly ropeTheta: number,
  ) {
    if (needsAttention(spec) && !session.session.inputNames.includes("attn_window")) {
      throw new Error(`${spec.kind} needs attention scores: open the model rewritten by exposeAttentionScores`);
    }
  }

  private note(): void {
    this.peakKvBytes = Math.max(this.peakKvBytes, this.session.kvCacheBytes);
  }

  /** Prefill of a prompt with this policy; returns the last row of logits. */
  async prefill(ids: number[]): Promise<Float32Array> {
    const s = this.session;
    this.hh = [];
    this.evicted = 0;
    this.seen = ids.length;
    this.peakKvBytes = 0;
    this.decodeKvBytes = 0;
    s.attentionWindow = this.spec.kind === "snapkv" ? this.spec.window : null;
    const logits = await s.prefill(ids);
    this.seq = this.spec.kind === "streaming" ? ids.map((_, i) => i) : [];
    this.note();
    const sp = this.spec;
    if (sp.kind === "snapkv") {
      await this.apply(this.perHead((scores) => snapkvKeep(scores, ids.length, sp.budget, sp.window, sp.kernel)));
    } else if (sp.kind === "h2o") {
      this.hh = this.grouped();
      await this.h2oEvict();
    } else await this.afterStep();
    s.attentionWindow = null;
    this.decodeKvBytes = s.kvCacheBytes;
    return logits;
  }

  /**
   * Chunked prefill: appends `ids` to the cache in one forward and evicts after it, so the cache never
   * holds more than the policy's budget plus one chunk (StreamingLLM reading a long input in pieces).
   * Only for the dense cache and StreamingLLM, whose eviction needs no attention scores; call
   * prefill for the first chunk. Returns the logits of every appended token.
   */
  async extend(ids: number[]): Promise<Float32Array> {
    if (this.spec.kind !== "dense" && this.spec.kind !== "streaming")
      throw new Error(`chunked prefill is for the dense cache and StreamingLLM, not ${this.spec.kind}`);
    if (this.session.pastLength === 0) throw new Error("extend continues a prefill: call prefill first");
    await this.fitPositions(ids.length);
    const logits = await this.session.extend(ids);
    if (this.spec.kind === "streaming") for (let i = 0; i < ids.length; i++) this.seq.push(this.seen + i);
    this.seen += ids.length;
    this.note();
    await this.afterStep();
    this.decodeKvBytes = this.session.kvCacheBytes;
    return logits;
  }

  /** One decode step; returns its logits. */
  async step(id: number): Promise<Float32Array> {
    await this.fitPositions(1);
    const logits = await this.session.step(id);
    if (this.spec.kind === "streaming") this.seq.push(this.seen);
    this.seen++;
    this.note();
    if (this.spec.kind === "h2o") {
      const add = this.grouped();
      this.hh = this.hh.map((layer, l) =>
        layer.map((acc, g) => {
          const out = new Float64Array(acc.length + 1);
          out.set(acc);
          for (let i = 0; i < out.length; i++) out[i] += add[l][g][i];
          return out;
        }),
      );
      await this.h2oEvict();
    } else await this.afterStep();
    this.decodeKvBytes = Math.max(this.decodeKvBytes, this.session.kvCacheBytes);
    return logits;
  }

  /**
   * StreamingLLM with positions within the cache, as the reference: every kept key sits at its rank
   * in the cache (sinks 0..S-1, then the window oldest first) and the next token at the cache
   * length. Only distances matter to rotary attention, so the same scores come from keys at rank +
   * `positionOffset` and the next token at length + `positionOffset`: evicting `excess` entries
   * raises the offset by `excess`, which leaves every window key where it is (its rank fell by just
   * that much) and moves only the sink keys forward. The evicted slots take the surviving entries
   * beyond the new length, so one eviction moves at most `excess` rows per head and rotates S:
   * nothing proportional to the window. fitPositions rotates every key back by the offset before
   * the positions would pass the model's context.
   */
  private async afterStep(): Promise<void> {
    const sp = this.spec;
    if (sp.kind !== "streaming") return;
    const s = this.session;
    const len = s.pastLength;
    const size = sp.sinks + sp.window;
    if (len <= size) return;
    const excess = len - size;
    // the rule on the entries in sequence order, mapped back to their slots
    const bySeq = Array.from({ length: len }, (_, i) => i).sort((a, b) => this.seq[a] - this.seq[b]);
    const kept = new Set(streamingKeep(len, sp.sinks, sp.window).map((r) => bySeq[r]));
    const movers = Array.from({ length: excess }, (_, i) => size + i).filter((i) => kept.has(i));
    const keep = Array.from({ length: size }, (_, j) => (kept.has(j) ? j : (movers.shift() as number)));
    const shift = Int32Array.from(keep, (i) => (this.seq[i] < sp.sinks ? -excess : 0));
    await s.keepPositions(this.everyHead(keep), sp.sinks > 0 ? { shift, ropeTheta: this.ropeTheta } : undefined);
    this.seq = keep.map((i) => this.seq[i]);
    s.positionOffset += excess;
    this.evicted += excess;
  }

  /** StreamingLLM: before a forward of `n` tokens that would pass the context, every key back to its rank. */
  private async fitPositions(n: number): Promise<void> {
    const s = this.session;
    const max = s.shape.maxPosition;
    if (this.spec.kind !== "streaming" || max === null || s.positionOffset === 0 || s.pastLength + s.positionOffset + n <= max) return;
    const len = s.pastLength;
    const identity = Array.from({ length: len }, (_, i) => i);
    await s.keepPositions(this.everyHead(identity), { shift: new Int32Array(len).fill(s.positionOffset), ropeTheta: this.ropeTheta });
    s.positionOffset = 0;
  }

  /** One kept list for every layer and kv head. */
  private everyHead(keep: number[]): number[][][] {
    const shape = this.session.shape;
    return Array.from({ length: shape.numLayers }, (_, l) => Array.from({ length: layerKvHeads(shape, l) }, () => keep));
  }

  private async h2oEvict(): Promise<void> {
    const sp = this.spec;
    if (sp.kind !== "h2o") return;
    const len = this.session.pastLength;
    if (len <= sp.budget) return;
    const recent = h2oRecent(sp.budget, sp.recentRatio);
    const keep = this.hh.map((layer) => layer.map((scores) => h2oKeep(scores, sp.budget, recent)));
    this.hh = this.hh.map((layer, l) => layer.map((scores, g) => Float64Array.from(keep[l][g], (i) => scores[i])));
    await this.apply(keep);
  }

  /** Attention scores of the last forward summed within each kv group: [layer][kvHead][entry]. */
  private grouped(): Float64Array[][] {
    const s = this.session;
    const att = s.lastAttention;
    if (!att) throw new Error("the last forward gave no attention scores");
    const len = s.pastLength;
    return att.map((flat, l) => {
      const nh = flat.length / len;
      if (!Number.isInteger(nh)) throw new Error(`layer ${l}: attention scores of ${flat.length} values for a cache of ${len}`);
      const heads = Array.from({ length: nh }, (_, h) => flat.subarray(h * len, (h + 1) * len));
      return groupScores(heads, layerKvHeads(s.shape, l));
    });
  }

  private perHead(pick: (scores: Float64Array) => number[]): number[][][] {
    return this.grouped().map((layer) => layer.map((scores) => pick(scores)));
  }

  private async apply(keep: number[][][]): Promise<void> {
    const len = this.session.pastLength;
    const kept = keep[0][0].length;
    if (kept === len) return;
    this.evicted += len - kept;
    await this.session.keepPositions(keep);
    // entries keep their original positions; new tokens continue at the absolute position
    this.session.positionOffset += len - kept;
  }

  /**
   * Removes the newest cache entry (the last prompt token, to be decoded again). Every head keeps
   * it under these policies; a head that did not (H2O with no recent share) loses its newest kept
   * entry instead. H2O's scores keep the prompt's attention, the last token's included.
   */
  async dropLast(): Promise<void> {
    const s = this.session;
    const len = s.pastLength;
    if (len < 2) throw new Error("dropLast needs a cache of at least two entries");
    // H2O and SnapKV keep ascending lists, so the newest kept entry of every head is the cache's last
    // slot; StreamingLLM's may sit in an evicted slot, and the last slot's entry takes its place
    const newest = this.spec.kind === "streaming" ? this.seq.indexOf(Math.max(...this.seq)) : len - 1;
    if (newest === len - 1) await s.truncate(len - 1);
    else await s.keepPositions(this.everyHead(Array.from({ length: len - 1 }, (_, j) => (j === newest ? len - 1 : j))));
    if (this.hh.length) this.hh = this.hh.map((layer) => layer.map((scores) => scores.slice(0, -1)));
    if (this.spec.kind === "streaming") this.seq = Array.from({ length: len - 1 }, (_, j) => this.seq[j === newest ? len - 1 : j]);
    this.seen--;
  }

  /** Mean over the sequence of the cache entries kept, as a fraction of what the dense cache would hold. */
  get keptRatio(): number {
    return this.seen ? this.session.pastLength / this.seen : 1;
  }
}

export interface GenerateResult {
  tokens: number[];
  /** Median ms of the decode steps after the first new token. */
  decodeMs: number[];
  prefillMs: number;
  peakKvBytes: number;
  decodeKvBytes: number;
  keptRatio: number;
}

/**
 * Greedy generation under a policy. The whole prompt is prefilled, so the policy sees the question
 * (SnapKV's observation window ends with it, H2O's scores include its attention); then the last
 * prompt token's entry is dropped and that token decoded again against the kept entries, so every
 * answer token, the first included, sees only what the policy kept. (The reference implementations
 * produce the first token from the full prefill attention, before eviction: with one-token answers,
 * as in recall, every policy would then score exactly as the dense cache.)
 */
export async function generateWithPolicy(
  state: KvPolicyState,
  prompt: number[],
  maxNew: number,
  stop: ReadonlySet<number> = new Set(),
): Promise<GenerateResult> {
  if (prompt.length === 0) throw new Error("generation needs at least one prompt token");
  const t0 = performance.now();
  let logits = await state.prefill(prompt);
  if (prompt.length > 1) {
    await state.dropLast();
    logits = await state.step(prompt[prompt.length - 1]);
  }
  const prefillMs = performance.now() - t0;
  const tokens: number[] = [];
  const decodeMs: number[] = [];
  for (;;) {
    const next = argmaxRow(logits);
    tokens.push(next);
    if (tokens.length >= maxNew || stop.has(next)) break;
    const t = performance.now();
    logits = await state.step(next);
    decodeMs.push(performance.now() - t);
  }
  return { tokens, decodeMs, prefillMs, peakKvBytes: state.peakKvBytes, decodeKvBytes: state.decodeKvBytes, keptRatio: state.keptRatio };
}

/**
 * Negative log-likelihood of a token stream fed one token at a time under a policy (StreamingLLM's
 * evaluation): the first token is the context, every later token is scored. Returns per-token NLLs.
 */
export async function streamNll(state: KvPolicyState, ids: number[]): Promise<Float64Array> {
  const nll = new Float64Array(ids.length - 1);
  let logits = await state.prefill(ids.slice(0, 1));
  for (let i = 1; i < ids.length; i++) {
    nll[i - 1] = -logSoftmax(logits, ids[i]);
    if (i < ids.length - 1) logits = await state.step(ids[i]);
  }
  return nll;
}

function argmaxRow(row: Float32Array): number {
  let best = 0;
  for (let i = 1; i < row.length; i++) if (row[i] > row[best]) best = i;
  return best;
}

function logSoftmax(row: Float32Array, idx: number): number {
  let max = -Infinity;
  for (let i = 0; i < row.length; i++) if (row[i] > max) max = row[i];
  let s = 0;
  for (let i = 0; i < row.length; i++) s += Math.exp(row[i] - max);
  return row[idx] - max - Math.log(s);
}
