/**
 * Training rows generated on the fly from the train split of every generator. A row is T+1 token
 * ids plus a per-token "scored" flag: text rows score every token; task rows score only the answers
 * and the newline that ends them (what the evaluation asks the model to produce).
 */
import type { Rng } from "../data/rng";
import { paragraph } from "../data/grammar";
import { recallItem, arithmeticItem, arithmeticExample, copyItem, copyExample } from "../data/tasks";
import { passkeyExample, mqarStream } from "../data/long";
import type { Tokenizer } from "../tokenizer/tokenizer";

export type RowKind = "grammar" | "recall" | "arithmetic" | "copy" | "passkey" | "mqar";
export const ROW_KINDS: readonly RowKind[] = ["grammar", "recall", "arithmetic", "copy", "passkey", "mqar"];

export interface DataMix {
  /** Relative frequency of each row kind (a kind left out is never drawn). */
  weights: Partial<Record<RowKind, number>>;
  /** Recall pairs per row: uniform in [minPairs, current max], the max rising linearly to maxPairs. */
  recallMinPairs: number;
  recallMaxPairs: number;
  /** Fraction of training over which the recall max rises from minPairs+2 to maxPairs. */
  recallCurriculum: number;
  /** Words per copy example (default 4..10). */
  copyWords?: [number, number];
  /** Shortest passkey row in tokens (default half the row): a curriculum from short to long retrieval. */
  passkeyMinTokens?: number;
  /**
   * Grammar rows start at a document start (the end-of-text token, then a new paragraph) instead of
   * an arbitrary point of the stream, so position 0 always holds the same token, as the rows of a
   * model trained with a beginning-of-sequence token do.
   */
  documentStart?: boolean;
}

export interface Row {
  kind: RowKind;
  ids: Int32Array;
  /** scored[j] = 1 when token j is a target the loss counts. */
  scored: Uint8Array;
}

export class RowSource {
  private grammarBuf: number[] = [];
  private readonly nl: number;
  private readonly pad: number;
  private readonly eos: number;

  constructor(
    private readonly tok: Tokenizer,
    private readonly T: number,
    private readonly mix: DataMix,
    private readonly rng: Rng,
  ) {
    const nl = tok.encode("\n");
    if (nl.length !== 1) throw new Error("the tokenizer must encode a newline as one token");
    this.nl = nl[0];
    if (tok.eosId === null || tok.padId === null) throw new Error("the tokenizer needs end-of-text and padding tokens");
    this.eos = tok.eosId;
    this.pad = tok.padId;
  }

  private pickKind(): RowKind {
    const w = this.mix.weights;
    const total = ROW_KINDS.reduce((s, k) => s + (w[k] ?? 0), 0);
    let u = this.rng.next() * total;
    for (const k of ROW_KINDS) {
      u -= w[k] ?? 0;
      if (u < 0) return k;
    }
    return "grammar";
  }

  /** progress in [0, 1] drives the recall curriculum. */
  next(progress: number, kind: RowKind = this.pickKind()): Row {
    switch (kind) {
      case "grammar":
        return this.grammarRow();
      case "recall":
        return this.recallRow(progress);
      case "arithmetic":
        return this.packed("arithmetic", () => {
          const ex = arithmeticExample(arithmeticItem(this.rng, "train"));
          return [this.tok.encode(ex.prompt), this.tok.encode(ex.answer)];
        });
      case "copy":
        return this.packed("copy", () => {
          const [lo, hi] = this.mix.copyWords ?? [4, 10];
          const ex = copyExample(copyItem(this.rng, "train", lo, hi));
          return [this.tok.encode(ex.prompt), this.tok.encode(ex.answer)];
        });
      case "passkey":
        return this.passkeyRow();
      case "mqar":
        return this.mqarRow();
    }
  }

  private readonly count = (s: string) => this.tok.encode(s).length;

  /** Long rows (workers/data/long.ts): a pass key hidden in filler at a random depth, asked at the end; the answer scored. */
  private passkeyRow(): Row {
    const lo = Math.min(this.T - 8, this.mix.passkeyMinTokens ?? Math.floor(this.T / 2));
    const length = this.rng.range(lo, this.T - 8);
    const ex = passkeyExample(this.rng, "train", length, this.count);
    const p = this.tok.encode(ex.prompt);
    const a = [...this.tok.encode(ex.answer), this.nl];
    return this.finish("passkey", [...p, ...a], [...p.map(() => 0), ...a.map(() => 1)]);
  }

  /** A multi-query recall stream with power-law gaps; every answer and its newline scored. */
  private mqarRow(): Row {
    const n = this.rng.range(this.mix.recallMinPairs, this.mix.recallMaxPairs);
    const ids: number[] = [];
    const scored: number[] = [];
    for (const piece of mqarStream(this.rng, "train", this.T + 1, n, this.count)) {
      const t = this.tok.encode(piece.text);
      ids.push(...t);
      scored.push(...t.map(() => 0));
      if (piece.answer !== undefined) {
        const a = [...this.tok.encode(piece.answer), this.nl];
        ids.push(...a);
        scored.push(...a.map(() => 1));
      }
    }
    return this.finish("mqar", ids, scored);
  }

  /** A window of the end-of-text separated stream of grammar paragraphs; every token scored. */
  private grammarRow(): Row {
    const need = this.T + 1;
    if (this.mix.documentStart) this.grammarBuf = [];
    while (this.grammarBuf.length < need) this.grammarBuf.push(this.eos, ...this.tok.encode(paragraph(this.rng, "train")));
    const ids = Int32Array.from(this.grammarBuf.slice(0, need));
    this.grammarBuf = this.grammarBuf.slice(this.T);
    return { kind: "grammar", ids, scored: new Uint8Array(need).fill(1) };
  }

  /** One key:value context, then queries (each key once, in random order, repeated) until the row is full. */
  private recallRow(progress: number): Row {
    const m = this.mix;
    const ramp = m.recallCurriculum > 0 ? Math.min(1, progress / m.recallCurriculum) : 1;
    const hi = Math.round(Math.min(m.recallMaxPairs, m.recallMinPairs + 2) + ramp * Math.max(0, m.recallMaxPairs - m.recallMinPairs - 2));
    const n = this.rng.range(m.recallMinPairs, Math.max(m.recallMinPairs, hi));
    const item = recallItem(this.rng, "train", n);
    const ids: number[] = this.tok.encode(item.context);
    const scored: number[] = new Array(ids.length).fill(0);
    const need = this.T + 1;
    let order: number[] = [];
    for (;;) {
      if (order.length === 0) order = this.rng.shuffle(item.pairs.map((_, i) => i));
      const [k, v] = item.pairs[order.pop()!];
      const q = this.tok.encode(` ${k}`);
      const a = [...this.tok.encode(` ${v}`), this.nl];
      if (ids.length + q.length + a.length > need) break;
      ids.push(...q, ...a);
      scored.push(...q.map(() => 0), ...a.map(() => 1));
    }
    return this.finish("recall", ids, scored);
  }

  /** Independent prompt/answer examples packed into one row; answers and their newline scored. */
  private packed(kind: RowKind, make: () => [number[], number[]]): Row {
    const ids: number[] = [];
    const scored: number[] = [];
    const need = this.T + 1;
    for (let misses = 0; ; ) {
      const [p, a] = make();
      const all = [...p, ...a, this.nl];
      if (ids.length + all.length > need) {
        // an empty row redraws (short rows cannot hold the longest examples); a started row ends
        if (ids.length > 0) break;
        if (++misses > 50) throw new Error(`${kind} examples of ${all.length} tokens do not fit a row of ${need}`);
        continue;
      }
      ids.push(...all);
      scored.push(...p.map(() => 0), ...a.map(() => 1), 1);
    }
    return this.finish(kind, ids, scored);
  }

  private finish(kind: RowKind, ids: number[], scored: number[]): Row {
    const need = this.T + 1;
    const out = new Int32Array(need).fill(this.pad);
    out.set(ids.slice(0, need));
    const s = new Uint8Array(need);
    s.set(scored.slice(0, need));
    return { kind, ids: out, scored: s };
  }
}

export interface Batch {
  inputIds: BigInt64Array;
  targets: BigInt64Array;
  /** Per target weight; rows count equally (each row's scored targets share 1/rows). */
  lossWeights: Float32Array;
  kinds: RowKind[];
  scoredTokens: number;
}

export function makeBatch(rows: Row[], T: number): Batch {
  const B = rows.length;
  const inputIds = new BigInt64Array(B * T);
  const targets = new BigInt64Array(B * T);
  const lossWeights = new Float32Array(B * T);
  let scoredTokens = 0;
  rows.forEach((r, b) => {
    let n = 0;
    for (let j = 1; j <= T; j++) n += r.scored[j];
    scoredTokens += n;
    for (let j = 0; j < T; j++) {
      inputIds[b * T + j] = BigInt(r.ids[j]);
      targets[b * T + j] = BigInt(r.ids[j + 1]);
      lossWeights[b * T + j] = n > 0 && r.scored[j + 1] ? 1 / (n * B) : 0;
    }
  });
  return { inputIds, targets, lossWeights, kinds: rows.map((r) => r.kind), scoredTokens };
}
