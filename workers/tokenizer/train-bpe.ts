/**
 * Trains a byte-level BPE and writes it as a Hugging Face tokenizer.json. Digits are isolated by the
 * pre-tokenizer, so no merge ever joins two digits and arithmetic stays one token per digit.
 */
import { preTokenizerOf } from "./tokenizer";
import { BYTE_TO_CHAR } from "./byte-level";
import { bpeModel, specialAddedToken } from "./hf-json";

export const SPECIAL_TOKENS = ["<|endoftext|>", "<|pad|>"] as const;

/** GPT-2's split, then every digit on its own, then the byte-to-character map. */
export const PRE_TOKENIZER = {
  type: "Sequence",
  pretokenizers: [
    {
      type: "Split",
      pattern: { Regex: "'s|'t|'re|'ve|'m|'ll|'d| ?\\p{L}+| ?\\p{N}+| ?[^\\s\\p{L}\\p{N}]+|\\s+(?!\\S)|\\s+" },
      behavior: "Isolated",
      invert: false,
    },
    { type: "Digits", individual_digits: true },
    { type: "ByteLevel", add_prefix_space: false, trim_offsets: true, use_regex: false },
  ],
};

export interface TrainBpeResult {
  json: Record<string, unknown>;
  merges: [string, string][];
}

/**
 * Learns merges until the vocabulary (specials + 256 bytes + merges) reaches vocabSize. Ties in
 * pair frequency break by the pair's text so the result is the same on every run.
 */
export function trainBpe(texts: Iterable<string>, vocabSize: number): TrainBpeResult {
  const base = SPECIAL_TOKENS.length + 256;
  if (vocabSize < base) throw new Error(`vocab size ${vocabSize} is below the ${base} specials and bytes`);
  const pre = preTokenizerOf(PRE_TOKENIZER);
  const counts = new Map<string, number>();
  for (const t of texts) for (const piece of pre([t])) counts.set(piece, (counts.get(piece) ?? 0) + 1);
  const words = [...counts.entries()].map(([w, c]) => ({ syms: [...w], c }));

  const vocab: Record<string, number> = {};
  SPECIAL_TOKENS.forEach((t, i) => (vocab[t] = i));
  BYTE_TO_CHAR.forEach((c, b) => (vocab[c] = SPECIAL_TOKENS.length + b));
  const merges: [string, string][] = [];
  while (SPECIAL_TOKENS.length + 256 + merges.length < vocabSize) {
    const pairs = new Map<string, number>();
    for (const { syms, c } of words)
      for (let i = 0; i < syms.length - 1; i++) {
        const k = syms[i] + "\u0000" + syms[i + 1];
        pairs.set(k, (pairs.get(k) ?? 0) + c);
      }
    let bestKey = "";
    let bestCount = 0;
    for (const [k, c] of pairs) if (c > bestCount || (c === bestCount && k < bestKey)) [bestKey, bestCount] = [k, c];
    if (bestCount < 2) break;
    const [a, b] = bestKey.split("\u0000");
    const ab = a + b;
    merges.push([a, b]);
    vocab[ab] = SPECIAL_TOKENS.length + 256 + merges.length - 1;
    for (const w of words) {
      const s = w.syms;
      if (s.length < 2) continue;
      const out: string[] = [];
      for (let i = 0; i < s.length; i++) {
        if (i < s.length - 1 && s[i] === a && s[i + 1] === b) {
          out.push(ab);
          i++;
        } else out.push(s[i]);
      }
      w.syms = out;
    }
  }

  const json = {
    version: "1.0",
    truncation: null,
    padding: null,
    added_tokens: SPECIAL_TOKENS.map((content, id) => specialAddedToken(id, content)),
    normalizer: null,
    pre_tokenizer: PRE_TOKENIZER,
    post_processor: { type: "ByteLevel", add_prefix_space: false, trim_offsets: false, use_regex: false },
    decoder: { type: "ByteLevel", add_prefix_space: false, trim_offsets: true, use_regex: true },
    model: bpeModel(
      vocab,
      merges.map(([x, y]) => [x, y]),
      null,
    ),
  };
  return { json, merges };
}
