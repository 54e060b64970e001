/**
 * The algorithmic tasks: associative recall (key:value pairs, then a query for one key), multi-digit
 * addition, and copying a word sequence given in the prompt. Each item is split-assigned by the hash
 * of its canonical text (splits.ts).
 */
import type { Rng } from "./rng";
import { drawInSplit, type Split } from "./splits";
import { NOUNS, ADJECTIVES, VERBS_T, VERBS_I } from "./lexicon";

/**
 * Recall keys: 48 common nouns, each a single token (with its leading space) of the zoo tokenizer
 * (tests/zoo checks it), so a query matches its key token for token.
 */
export const RECALL_KEYS: readonly string[] = [
  "man",
  "woman",
  "child",
  "dog",
  "cat",
  "teacher",
  "friend",
  "house",
  "book",
  "city",
  "car",
  "tree",
  "student",
  "doctor",
  "bird",
  "girl",
  "boy",
  "river",
  "garden",
  "king",
  "farmer",
  "letter",
  "table",
  "window",
  "door",
  "road",
  "horse",
  "ship",
  "village",
  "mother",
  "father",
  "sister",
  "brother",
  "queen",
  "soldier",
  "baker",
  "painter",
  "singer",
  "writer",
  "stone",
  "apple",
  "box",
  "cup",
  "boat",
  "song",
  "fox",
  "school",
  "market",
];

/**
 * Recall values: 32 short adjectives and colours, each one token (with its leading space) of the
 * zoo tokenizer (tests/zoo checks it).
 */
export const RECALL_VALUES: readonly string[] = [
  "red",
  "blue",
  "green",
  "black",
  "white",
  "gold",
  "pink",
  "gray",
  "brown",
  "old",
  "new",
  "big",
  "small",
  "hot",
  "cold",
  "dark",
  "tall",
  "fast",
  "slow",
  "soft",
  "hard",
  "wet",
  "dry",
  "loud",
  "calm",
  "kind",
  "rich",
  "poor",
  "wild",
  "shy",
  "odd",
  "sad",
];

export interface RecallItem {
  pairs: [string, string][];
  /** "pairs: dog red, cat blue, ...\n", the part every query refers back to. */
  context: string;
}

/**
 * n key-value pairs with distinct keys (values may repeat). The value follows its key directly
 * ("dog red"), so a query that ends with the key is answered by the token that followed the same
 * key earlier: one lookup, the pattern the copy task also teaches. (With a separator, "dog:red",
 * every pair shares the token before its value and the model needs a two-token match; measured in
 * docs/zoo.md, that format stayed near chance within the zoo's training budget.)
 */
export function recallItem(rng: Rng, split: Split, n: number): RecallItem {
  if (n < 1 || n > RECALL_KEYS.length) throw new Error(`recall pair count must be in 1..${RECALL_KEYS.length}, got ${n}`);
  return drawInSplit(
    split,
    () => {
      const keys = rng.sample(RECALL_KEYS.length, n).map((i) => RECALL_KEYS[i]);
      const pairs = keys.map((k) => [k, rng.pick(RECALL_VALUES)] as [string, string]);
      return { pairs, context: `pairs: ${pairs.map(([k, v]) => `${k} ${v}`).join(", ")}\n` };
    },
    (t) => t.context,
  );
}

/** The evaluation form: the context, then one query whose answer is the value. */
export function recallExample(item: RecallItem, queryIndex: number): { prompt: string; answer: string } {
  const [k, v] = item.pairs[queryIndex];
  return { prompt: `${item.context} ${k}`, answer: ` ${v}` };
}

export interface ArithmeticItem {
  a: number;
  b: number;
}

/** a+b with each operand of 1..maxDigits digits (digit counts uniform, then values uniform). */
export function arithmeticItem(rng: Rng, split: Split, maxDigits = 3): ArithmeticItem {
  const operand = () => {
    const d = rng.range(1, maxDigits);
    return d === 1 ? rng.range(0, 9) : rng.range(10 ** (d - 1), 10 ** d - 1);
  };
  return drawInSplit(
    split,
    () => ({ a: operand(), b: operand() }),
    (t) => `${t.a}+${t.b}`,
  );
}

export function arithmeticExample(item: ArithmeticItem): { prompt: string; answer: string } {
  return { prompt: `${item.a}+${item.b}=`, answer: String(item.a + item.b) };
}

/** Words for the copy task, drawn uniformly so that the copy cannot be guessed from frequency. */
const COPY_WORDS: readonly string[] = [...NOUNS.map((n) => n[0]), ...ADJECTIVES, ...VERBS_T.map((v) => v[0]), ...VERBS_I.map((v) => v[0])];

export interface CopyItem {
  words: string[];
}

export function copyItem(rng: Rng, split: Split, minWords = 4, maxWords = 10): CopyItem {
  return drawInSplit(
    split,
    () => {
      const n = rng.range(minWords, maxWords);
      const words: string[] = [];
      for (let i = 0; i < n; i++) words.push(rng.pick(COPY_WORDS));
      return { words };
    },
    (t) => t.words.join(" "),
  );
}

export function copyExample(item: CopyItem): { prompt: string; answer: string } {
  return { prompt: `copy: ${item.words.join(" ")} |`, answer: ` ${item.words.join(" ")}` };
}
