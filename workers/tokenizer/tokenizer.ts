/**
 * A loader for Hugging Face `tokenizer.json` files covering the common case of exported decoder
 * models: models BPE (merges in either the "a b" or the ["a", "b"] form, byte fallback, ignore_merges)
 * and WordLevel; normalizers NFC/NFD/NFKC/NFKD, Lowercase, Strip, Replace, Prepend, Sequence;
 * pre-tokenizers ByteLevel, Split, Digits, Whitespace, WhitespaceSplit, Punctuation, Metaspace,
 * Sequence; decoders ByteLevel, Metaspace, Replace, ByteFallback, Fuse, Strip, Sequence; added and
 * special tokens. A component outside this list is rejected by name rather than half-applied.
 */
import fs from "node:fs";
import { bytesToUnicode, unicodeToBytes } from "./byte-level";

export interface Tokenizer {
  encode(text: string): number[];
  decode(ids: readonly number[], opts?: { skipSpecialTokens?: boolean }): string;
  /** One past the largest id (model vocabulary plus added tokens). */
  vocabSize: number;
  eosId: number | null;
  padId: number | null;
  idToToken(id: number): string | undefined;
  tokenToId(token: string): number | undefined;
}

type Json = Record<string, unknown>;

export class TokenizerError extends Error {}

function fail(msg: string): never {
  throw new TokenizerError(`tokenizer.json: ${msg}`);
}

// ---------------------------------------------------------------- regex (Oniguruma -> JavaScript)

/**
 * Tokenizer regexes are written for Oniguruma. JavaScript (Node 20) lacks scoped modifiers and
 * possessive quantifiers, so "(?i:'s|'t)" is expanded into character classes and "++", "*+", "?+"
 * fall back to their greedy forms (equivalent on the patterns tokenizers use).
 */
export function toJsRegex(pattern: string): RegExp {
  let p = pattern.replace(
    /\(\?i:((?:[^()\\]|\\.)*)\)/g,
    (_m, body: string) => "(?:" + body.replace(/[a-zA-Z]/g, (c) => `[${c.toLowerCase()}${c.toUpperCase()}]`) + ")",
  );
  p = p.replace(/(\{\d+(?:,\d*)?\}|(?<!\\)[+*?])\+/g, "$1");
  try {
    return new RegExp(p, "gu");
  } catch (e) {
    fail(`unsupported regex ${JSON.stringify(pattern)}: ${(e as Error).message}`);
  }
}

function escapeRegex(s: string): string {
  return s.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
}

function patternOf(p: unknown, where: string): RegExp {
  const o = p as Json;
  if (o && typeof o.String === "string") return new RegExp(escapeRegex(o.String), "gu");
  if (o && typeof o.Regex === "string") return toJsRegex(o.Regex);
  fail(`${where}: pattern must be {String} or {Regex}`);
}

// ---------------------------------------------------------------- splitting

type Behavior = "Isolated" | "Removed" | "MergedWithPrevious" | "MergedWithNext" | "Contiguous";

/** Splits `s` around the matches of `re` the way Hugging Face's SplitDelimiterBehavior does. */
export function splitBy(s: string, re: RegExp, behavior: Behavior, invert = false): string[] {
  const segs: [string, boolean][] = [];
  let last = 0;
  re.lastIndex = 0;
  for (const m of s.matchAll(re)) {
    if (m[0].length === 0) continue;
    const i = m.index!;
    if (i > last) segs.push([s.slice(last, i), false]);
    segs.push([m[0], true]);
    last = i + m[0].length;
  }
  if (last < s.length) segs.push([s.slice(last), false]);
  if (invert) for (const seg of segs) seg[1] = !seg[1];
  const out: string[] = [];
  switch (behavior) {
    case "Isolated":
      for (const [t] of segs) out.push(t);
      break;
    case "Removed":
      for (const [t, m] of segs) if (!m) out.push(t);
      break;
    case "MergedWithPrevious":
      for (const [t, m] of segs) {
        if (m && out.length > 0) out[out.length - 1] += t;
        else out.push(t);
      }
      break;
    case "MergedWithNext": {
      let pending = "";
      for (const [t, m] of segs) {
        if (m) pending += t;
        else {
          out.push(pending + t);
          pending = "";
        }
      }
      if (pending) out.push(pending);
      break;
    }
    case "Contiguous": {
      let prevMatch = false;
      for (const [t, m] of segs) {
        if (m && prevMatch && out.length > 0) out[out.length - 1] += t;
        else out.push(t);
        prevMatch = m;
      }
      break;
    }
    default:
      fail(`unknown split behavior ${JSON.stringify(behavior)}`);
  }
  return out;
}

// ---------------------------------------------------------------- normalizers

type StrFn = (s: string) => string;

function normalizerOf(n: unknown): StrFn {
  if (n == null) return (s) => s;
  const o = n as Json;
  switch (o.type) {
    case "NFC":
    case "NFD":
    case "NFKC":
    case "NFKD": {
      const form = o.type;
      return (s) => s.normalize(form);
    }
    case "Lowercase":
      return (s) => s.toLowerCase();
    case "Strip": {
      const left = o.strip_left !== false;
      const right = o.strip_right !== false;
      return (s) => (left && right ? s.trim() : left ? s.trimStart() : right ? s.trimEnd() : s);
    }
    case "Replace": {
      const re = patternOf(o.pattern, "normalizer Replace");
      const content = String(o.content ?? "");
      return (s) => s.replace(re, () => content);
    }
    case "Prepend": {
      const p = String(o.prepend ?? "");
      return (s) => (s.length > 0 ? p + s : s);
    }
    case "Sequence": {
      const fns = ((o.normalizers as unknown[]) ?? []).map(normalizerOf);
      return (s) => fns.reduce((acc, f) => f(acc), s);
    }
    default:
      fail(`unsupported normalizer ${JSON.stringify(o.type)}`);
  }
}

// ---------------------------------------------------------------- pre-tokenizers

type PreFn = (pieces: string[]) => string[];

const GPT2_PATTERN = /'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+/gu;

export function preTokenizerOf(p: unknown): PreFn {
  if (p == null) return (x) => x;
  const o = p as Json;
  const each =
    (f: (s: string) => string[]): PreFn =>
    (pieces) =>
      pieces.flatMap(f);
  switch (o.type) {
    case "ByteLevel": {
      const prefix = o.add_prefix_space === true;
      const useRegex = o.use_regex !== false;
      return each((s) => {
        const t = prefix && !s.startsWith(" ") ? " " + s : s;
        const parts = useRegex ? splitBy(t, GPT2_PATTERN, "Isolated") : [t];
        return parts.map(bytesToUnicode);
      });
    }
    case "Split": {
      const re = patternOf(o.pattern, "pre-tokenizer Split");
      const behavior = (o.behavior ?? "Isolated") as Behavior;
      const invert = o.invert === true;
      return each((s) => splitBy(s, re, behavior, invert));
    }
    case "Digits": {
      const re = o.individual_digits === true ? /\p{N}/gu : /\p{N}+/gu;
      return each((s) => splitBy(s, re, "Isolated"));
    }
    case "Whitespace":
      return each((s) => splitBy(s, /\w+|[^\w\s]+/gu, "Removed", true));
    case "WhitespaceSplit":
      return each((s) => splitBy(s, /\s+/gu, "Removed"));
    case "Punctuation":
      return each((s) => splitBy(s, /\p{P}/gu, (o.behavior ?? "Isolated") as Behavior));
    case "Metaspace": {
      const rep = String(o.replacement ?? "▁");
      const scheme = String(o.prepend_scheme ?? (o.add_prefix_space === false ? "never" : "always"));
      const split = o.split !== false;
      let first = true;
      return (pieces) => {
        first = true;
        return pieces.flatMap((s) => {
          let t = s.replaceAll(" ", rep);
          if ((scheme === "always" || (scheme === "first" && first)) && !t.startsWith(rep)) t = rep + t;
          first = false;
          return split ? splitBy(t, new RegExp(escapeRegex(rep), "gu"), "MergedWithNext") : [t];
        });
      };
    }
    case "Sequence": {
      const fns = ((o.pretokenizers as unknown[]) ?? []).map(preTokenizerOf);
      return (pieces) => fns.reduce((acc, f) => f(acc), pieces);
    }
    default:
      fail(`unsupported pre-tokenizer ${JSON.stringify(o.type)}`);
  }
}

// ---------------------------------------------------------------- models

type ModelFn = (piece: string) => string[];

/** Byte-pair encoding: repeatedly merges the adjacent pair with the lowest merge rank. */
export function bpeWord(word: string, ranks: ReadonlyMap<string, number>, opts: { prefix?: string; suffix?: string } = {}): string[] {
  const prefix = opts.prefix ?? "";
  const chars = [...word];
  let syms = chars.map((c, i) => (i > 0 ? prefix + c : c));
  if (opts.suffix && syms.length > 0) syms[syms.length - 1] += opts.suffix;
  while (syms.length > 1) {
    let best = Infinity;
    let at = -1;
    for (let i = 0; i < syms.length - 1; i++) {
      const r = ranks.get(syms[i] + "\u0000" + syms[i + 1]);
      if (r !== undefined && r < best) {
        best = r;
        at = i;
      }
    }
    if (at < 0) break;
    const right = prefix && syms[at + 1].startsWith(prefix) ? syms[at + 1].slice(prefix.length) : syms[at + 1];
    syms = [...syms.slice(0, at), syms[at] + right, ...syms.slice(at + 2)];
  }
  return syms;
}

interface Model {
  tokenize: ModelFn;
  vocab: Map<string, number>;
}

function modelOf(m: unknown): Model {
  const o = m as Json;
  if (!o || typeof o !== "object") fail("missing model");
  const vocabObj = o.vocab as Record<string, number> | undefined;
  if (!vocabObj || typeof vocabObj !== "object" || Array.isArray(vocabObj)) fail(`model ${String(o.type)} needs a vocab object`);
  const vocab = new Map(Object.entries(vocabObj));
  const unk = typeof o.unk_token === "string" ? o.unk_token : null;
  const type = o.type ?? (o.merges ? "BPE" : undefined);
  if (type === "WordLevel") {
    return {
      vocab,
      tokenize: (piece) => {
        if (vocab.has(piece)) return [piece];
        if (unk) return [unk];
        fail(`WordLevel: ${JSON.stringify(piece)} is not in the vocabulary and there is no unk_token`);
      },
    };
  }
  if (type !== "BPE") fail(`unsupported model ${JSON.stringify(o.type)}`);
  const ranks = new Map<string, number>();
  ((o.merges as unknown[]) ?? []).forEach((mm, i) => {
    let a: string;
    let b: string;
    if (typeof mm === "string") {
      const sp = mm.indexOf(" ");
      if (sp <= 0) fail(`merge ${i} ${JSON.stringify(mm)} is not "a b"`);
      a = mm.slice(0, sp);
      b = mm.slice(sp + 1);
    } else if (Array.isArray(mm) && mm.length === 2) [a, b] = mm as [string, string];
    else fail(`merge ${i} is neither "a b" nor ["a", "b"]`);
    const key = a + "\u0000" + b;
    if (!ranks.has(key)) ranks.set(key, i);
  });
  const prefix = typeof o.continuing_subword_prefix === "string" ? o.continuing_subword_prefix : "";
  const suffix = typeof o.end_of_word_suffix === "string" ? o.end_of_word_suffix : "";
  const byteFallback = o.byte_fallback === true;
  const fuseUnk = o.fuse_unk === true;
  const ignoreMerges = o.ignore_merges === true;
  const cache = new Map<string, string[]>();
  const encoder = new TextEncoder();
  return {
    vocab,
    tokenize: (piece) => {
      const hit = cache.get(piece);
      if (hit) return hit;
      const syms = ignoreMerges && vocab.has(piece) ? [piece] : bpeWord(piece, ranks, { prefix, suffix });
      const out: string[] = [];
      for (const s of syms) {
        if (vocab.has(s)) out.push(s);
        else if (byteFallback) {
          for (const b of encoder.encode(s)) {
            const t = `<0x${b.toString(16).toUpperCase().padStart(2, "0")}>`;
            if (!vocab.has(t)) fail(`byte_fallback token ${t} missing from the vocabulary`);
            out.push(t);
          }
        } else if (unk) {
          if (!(fuseUnk && out[out.length - 1] === unk)) out.push(unk);
        } else fail(`BPE: symbol ${JSON.stringify(s)} is not in the vocabulary and there is no unk_token`);
      }
      if (cache.size < 100_000) cache.set(piece, out);
      return out;
    },
  };
}

// ---------------------------------------------------------------- decoders

type DecFn = (tokens: string[]) => string[];

function decoderOf(d: unknown): DecFn | null {
  if (d == null) return null;
  const o = d as Json;
  switch (o.type) {
    case "ByteLevel":
      return (tokens) => [unicodeToBytes(tokens)];
    case "Metaspace": {
      const rep = String(o.replacement ?? "▁");
      const scheme = String(o.prepend_scheme ?? (o.add_prefix_space === false ? "never" : "always"));
      return (tokens) =>
        tokens.map((t, i) => {
          let s = t.replaceAll(rep, " ");
          if (i === 0 && scheme !== "never" && s.startsWith(" ")) s = s.slice(1);
          return s;
        });
    }
    case "Replace": {
      const re = patternOf(o.pattern, "decoder Replace");
      const content = String(o.content ?? "");
      return (tokens) => tokens.map((t) => t.replace(re, () => content));
    }
    case "ByteFallback":
      return (tokens) => {
        const out: string[] = [];
        let bytes: number[] = [];
        const flush = () => {
          if (bytes.length === 0) return;
          const s = new TextDecoder("utf-8", { fatal: false }).decode(new Uint8Array(bytes));
          out.push(s);
          bytes = [];
        };
        for (const t of tokens) {
          const m = /^<0x([0-9A-Fa-f]{2})>$/.exec(t);
          if (m) bytes.push(parseInt(m[1], 16));
          else {
            flush();
            out.push(t);
          }
        }
        flush();
        return out;
      };
    case "Fuse":
      return (tokens) => [tokens.join("")];
    case "Strip": {
      const content = String(o.content ?? " ");
      const start = Number(o.start ?? 0);
      const stop = Number(o.stop ?? 0);
      return (tokens) =>
        tokens.map((t) => {
          let s = t;
          for (let i = 0; i < start && s.startsWith(content); i++) s = s.slice(content.length);
          for (let i = 0; i < stop && s.endsWith(content); i++) s = s.slice(0, s.length - content.length);
          return s;
        });
    }
    case "Sequence": {
      const fns = ((o.decoders as unknown[]) ?? []).map((x) => decoderOf(x) ?? ((t: string[]) => t));
      return (tokens) => fns.reduce((acc, f) => f(acc), tokens);
    }
    default:
      fail(`unsupported decoder ${JSON.stringify(o.type)}`);
  }
}

// ---------------------------------------------------------------- tokenizer

interface AddedToken {
  id: number;
  content: string;
  special: boolean;
}

/** Builds a tokenizer from the parsed JSON of a tokenizer.json. */
export function tokenizerFromJson(json: unknown): Tokenizer {
  const o = json as Json;
  if (!o || typeof o !== "object") fail("not a JSON object");
  const model = modelOf(o.model);
  const normalize = normalizerOf(o.normalizer);
  const preTokenize = preTokenizerOf(o.pre_tokenizer);
  const decodeChain = decoderOf(o.decoder);
  const added: AddedToken[] = ((o.added_tokens as Json[]) ?? []).map((t) => ({
    id: Number(t.id),
    content: String(t.content),
    special: t.special === true,
  }));
  const idToTok = new Map<number, string>();
  for (const [t, id] of model.vocab) idToTok.set(id, t);
  for (const a of added) idToTok.set(a.id, a.content);
  const tokToId = new Map(model.vocab);
  for (const a of added) tokToId.set(a.content, a.id);
  const specialIds = new Set(added.filter((a) => a.special).map((a) => a.id));
  const addedSplit =
    added.length > 0
      ? new RegExp(
          [...added]
            .sort((a, b) => b.content.length - a.content.length)
            .map((a) => escapeRegex(a.content))
            .join("|"),
          "gu",
        )
      : null;
  let maxId = -1;
  for (const id of idToTok.keys()) maxId = Math.max(maxId, id);

  const find = (names: string[]): number | null => {
    for (const n of names) {
      const id = tokToId.get(n);
      if (id !== undefined) return id;
    }
    return null;
  };
  const eosId = find(["<|endoftext|>", "</s>", "<|end_of_text|>", "<|im_end|>", "<eos>", "[SEP]"]);
  const padId = find(["<|pad|>", "<pad>", "[PAD]"]) ?? eosId;

  const encodePlain = (text: string, out: number[]) => {
    if (text.length === 0) return;
    for (const piece of preTokenize([normalize(text)])) {
      if (piece.length === 0) continue;
      for (const t of model.tokenize(piece)) {
        const id = tokToId.get(t);
        if (id === undefined) fail(`token ${JSON.stringify(t)} has no id`);
        out.push(id);
      }
    }
  };

  return {
    vocabSize: maxId + 1,
    eosId,
    padId,
    idToToken: (id) => idToTok.get(id),
    tokenToId: (t) => tokToId.get(t),
    encode(text: string): number[] {
      const out: number[] = [];
      if (!addedSplit) {
        encodePlain(text, out);
        return out;
      }
      let last = 0;
      addedSplit.lastIndex = 0;
      for (const m of text.matchAll(addedSplit)) {
        encodePlain(text.slice(last, m.index), out);
        out.push(tokToId.get(m[0])!);
        last = m.index! + m[0].length;
      }
      encodePlain(text.slice(last), out);
      return out;
    },
    decode(ids, opts = {}): string {
      const tokens: string[] = [];
      for (const id of ids) {
        if (opts.skipSpecialTokens && specialIds.has(id)) continue;
        const t = idToTok.get(id);
        if (t === undefined) throw new TokenizerError(`decode: id ${id} is outside the vocabulary (size ${maxId + 1})`);
        tokens.push(t);
      }
      return decodeChain ? decodeChain(tokens).join("") : tokens.join(" ");
    },
  };
}

/** Loads a Hugging Face tokenizer.json from disk. */
export function loadTokenizer(file: string): Tokenizer {
  let json: unknown;
  try {
    json = JSON.parse(fs.readFileSync(file, "utf8"));
  } catch (e) {
    throw new TokenizerError(`cannot read tokenizer ${file}: ${(e as Error).message}`);
  }
  return tokenizerFromJson(json);
}
