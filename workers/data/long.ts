/**
 * Long-range tasks for zoo-long (docs/zoo.md): passkey retrieval (a number hidden at a random depth
 * in grammar filler, asked for at the end) and multi-query associative recall with power-law gaps
 * between the key-value pairs and their queries (the MQAR task of HazyResearch/zoology, written in
 * the zoo's text format). Lengths are in tokens of the zoo tokenizer, so the generators take a
 * token counter; every item lands in one split by the hash of its canonical text (splits.ts).
 */
import type { Rng } from "./rng";
import type { Split } from "./splits";
import { drawInSplit } from "./splits";
import { paragraph, sentenceIn } from "./grammar";
import { RECALL_KEYS, RECALL_VALUES } from "./tasks";

export type CountTokens = (text: string) => number;

export const PASSKEY_DIGITS = 5;
/** The line that hides the number and the question at the end; the answer is " " + the digits. */
export const passkeyLine = (key: string) => `\npass key: ${key}.\n`;
export const PASSKEY_QUESTION = "\npass key:";
/** The query marker of the recall queries inside filler text (a bare key would also occur in the grammar). */
export const MQAR_QUERY = "\nrecall:";

/** Grammar filler of about `tokens` tokens (whole sentences, never more than `tokens`). */
export function filler(rng: Rng, split: Split, tokens: number, count: CountTokens): string {
  let text = "";
  let n = 0;
  for (let guard = 0; guard < 10_000; guard++) {
    const s = (text ? " " : "") + sentenceIn(rng, split);
    const c = count(s);
    if (n + c > tokens) break;
    text += s;
    n += c;
  }
  return text;
}

export interface PasskeyExample {
  prompt: string;
  answer: string;
  meta: { tokens: number; depth: number; key: string };
}

/**
 * A prompt of about `length` tokens: filler, the pass key line at a uniform random depth, filler,
 * then the question. `depth` is the fraction of the filler before the key.
 */
export function passkeyExample(rng: Rng, split: Split, length: number, count: CountTokens): PasskeyExample {
  let key = "";
  for (let i = 0; i < PASSKEY_DIGITS; i++) key += String(i === 0 ? rng.range(1, 9) : rng.range(0, 9));
  const budget = Math.max(0, length - count(passkeyLine(key)) - count(PASSKEY_QUESTION) - count(` ${key}`));
  const depth = rng.next();
  const before = filler(rng, split, Math.floor(budget * depth), count);
  const after = filler(rng, split, budget - count(before), count);
  const prompt = `${before}${passkeyLine(key)}${after}${PASSKEY_QUESTION}`;
  return { prompt, answer: ` ${key}`, meta: { tokens: count(prompt), depth: Number(depth.toFixed(3)), key } };
}

/**
 * A gap in [1, max] drawn with P(g) proportional to g^-alpha (inverse CDF of the continuous power
 * law, rounded): most queries come soon after their pair, a long tail comes much later.
 */
export function powerLawGap(rng: Rng, max: number, alpha = 1.2): number {
  if (max <= 1) return 1;
  const u = rng.next();
  const a = 1 - alpha;
  const g = Math.pow(1 + u * (Math.pow(max, a) - 1), 1 / a);
  return Math.min(max, Math.max(1, Math.round(g)));
}

export interface MqarPiece {
  /** Text of the piece; for a query, the marker and the key. */
  text: string;
  /** For a query: the answer (" value"), followed by a newline in training rows. */
  answer?: string;
}

/**
 * One multi-query recall stream of about `length` tokens: `pairs` key-value pairs at the start
 * ("pairs: dog red, cat blue, ...\n"), then filler in which queries ("\nrecall: dog" -> " red") sit
 * at power-law token gaps after the pairs, each key at most once. Returns the pieces in order; an
 * answered query is followed by a newline, as in the recall rows.
 */
export function mqarStream(rng: Rng, split: Split, length: number, pairs: number, count: CountTokens, queries = pairs): MqarPiece[] {
  const item = drawInSplit(
    split,
    () => {
      const keys = rng.sample(RECALL_KEYS.length, pairs).map((i) => RECALL_KEYS[i]);
      return keys.map((k) => [k, rng.pick(RECALL_VALUES)] as [string, string]);
    },
    (p) => p.map(([k, v]) => `${k} ${v}`).join(","),
  );
  const context = `pairs: ${item.map(([k, v]) => `${k} ${v}`).join(", ")}\n`;
  const room = Math.max(1, length - count(context) - 8);
  const order = rng.shuffle(item.map((_, i) => i)).slice(0, Math.min(queries, item.length));
  const gaps = order.map(() => powerLawGap(rng, room)).sort((a, b) => a - b);
  const pieces: MqarPiece[] = [{ text: context }];
  let at = 0;
  let used = count(context);
  order.forEach((qi, j) => {
    const [k, v] = item[qi];
    const q = `${MQAR_QUERY} ${k}`;
    const cost = count(q) + count(` ${v}`) + 1;
    if (used + cost > length) return;
    const gap = Math.min(gaps[j] - at, length - used - cost);
    if (gap > 0) {
      const f = filler(rng, split, gap, count);
      if (f) {
        pieces.push({ text: f });
        const c = count(f);
        at += c;
        used += c;
      }
    }
    pieces.push({ text: q, answer: ` ${v}` });
    used += cost;
  });
  return pieces;
}

export interface MqarExample {
  prompt: string;
  answer: string;
  meta: { tokens: number; pairs: number; queries: number; gap: number };
}

/**
 * An evaluation example of about `length` tokens: grammar filler, then a stream whose last query is
 * left open; the earlier queries appear answered (teacher-forced), as in a multi-query stream.
 * `gap` is the token distance from the end of the pairs to the open query (power-law drawn).
 */
export function mqarExample(rng: Rng, split: Split, length: number, pairs: number, count: CountTokens): MqarExample {
  for (let guard = 0; guard < 100; guard++) {
    const pieces = mqarStream(rng, split, length, pairs, count);
    const lastQ = pieces.findLastIndex((p) => p.answer !== undefined);
    if (lastQ < 0) continue;
    let prompt = "";
    for (let i = 0; i < lastQ; i++) prompt += pieces[i].answer !== undefined ? `${pieces[i].text}${pieces[i].answer}\n` : pieces[i].text;
    const gap = count(prompt) - count(pieces[0].text);
    prompt += pieces[lastQ].text;
    // filler before the pairs brings the prompt to the target length and keeps the drawn gaps
    const pre = filler(rng, split, Math.max(0, length - count(prompt) - 2), count);
    if (pre) prompt = `${pre}\n${prompt}`;
    const queries = pieces.filter((p) => p.answer !== undefined).length;
    return {
      prompt,
      answer: pieces[lastQ].answer!,
      meta: { tokens: count(prompt), pairs, queries, gap },
    };
  }
  throw new Error(`mqar: no query fits ${length} tokens with ${pairs} pairs`);
}

/** A long grammar stream (paragraphs separated by blank lines) of about `tokens` tokens. */
export function grammarStream(rng: Rng, split: Split, tokens: number, count: CountTokens): string {
  let text = "";
  let n = 0;
  while (n < tokens) {
    const p = (text ? "\n" : "") + paragraph(rng, split, 3, 6);
    text += p;
    n += count(p);
  }
  return text;
}
