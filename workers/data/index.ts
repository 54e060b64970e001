/**
 * Deterministic data for the zoo: the evaluation splits written as JSONL (docs/datasets.md) and the
 * text a tokenizer is trained on. Training rows are generated on the fly from the same generators
 * (workers/train/batches.ts), so nothing but the small evaluation files is stored.
 */
import fs from "node:fs";
import path from "node:path";
import { Rng } from "./rng";
import { paragraph, agreementItem } from "./grammar";
import { recallItem, recallExample, arithmeticItem, arithmeticExample, copyItem, copyExample } from "./tasks";
import { passkeyExample, mqarExample, grammarStream, type CountTokens } from "./long";
import type { Split } from "./splits";
import type { DatasetTask } from "../../lib/domain";

export { Rng } from "./rng";
export * from "./splits";
export * from "./grammar";
export * from "./tasks";
export * from "./long";

export interface DatasetSpec {
  /** File stem and dataset family, e.g. "recall" -> zoo/datasets/recall-test.jsonl */
  name: string;
  task: DatasetTask;
  description: string;
}

export const DATASETS: readonly DatasetSpec[] = [
  {
    name: "grammar",
    task: "perplexity",
    description: "Paragraphs of the generated English-like grammar (Zipf lexicon, clauses, relative clauses, questions, numbers).",
  },
  {
    name: "grammar-mc",
    task: "multiple-choice",
    description: "Subject-verb agreement: pick the correctly agreeing verb after a subject with an attractor noun.",
  },
  { name: "recall", task: "recall", description: "Associative recall: key-value pairs (48 noun keys, 32 one-word values), then a query for one key." },
  {
    name: "recall-16",
    task: "recall",
    description: "Associative recall as in recall, with 16 key-value pairs per example (longer than any training row's 12).",
  },
  { name: "arithmetic", task: "exact-match", description: "Addition of two operands of one to three digits, answer written in full." },
  { name: "copy", task: "exact-match", description: "Copy a sequence of 4-10 uniformly drawn words given in the prompt." },
];

export interface DataRecipe {
  seed: number;
  /** key:value pairs per recall example in the evaluation splits. */
  recallPairs: number;
  examplesPerSplit: number;
}

export type JsonlLine = Record<string, unknown>;

/** The examples of one dataset split; the same recipe gives the same lines. */
export function datasetLines(name: string, split: Split, recipe: DataRecipe): JsonlLine[] {
  const seedOf = (s: string) => (recipe.seed * 1_000_003 + [...`${name}/${s}`].reduce((h, c) => (h * 31 + c.charCodeAt(0)) | 0, 7)) | 0;
  const rng = new Rng(seedOf(split));
  const n = recipe.examplesPerSplit;
  const lines: JsonlLine[] = [];
  const seen = new Set<string>();
  // Duplicates would over-weight an item in a score; redraw instead (bounded, since every family has
  // far more distinct items than examplesPerSplit).
  const push = (key: string, line: JsonlLine) => {
    if (seen.has(key)) return;
    seen.add(key);
    lines.push({ id: `${name}-${split}-${lines.length}`, ...line });
  };
  for (let guard = 0; lines.length < n; guard++) {
    if (guard > n * 50) throw new Error(`${name}/${split}: too few distinct items for ${n} examples`);
    switch (name) {
      case "grammar": {
        const text = paragraph(rng, split, 3, 6);
        push(text, { text });
        break;
      }
      case "grammar-mc": {
        const item = agreementItem(rng, split);
        push(item.prompt + item.choices.join("|"), item);
        break;
      }
      case "recall":
      case "recall-16": {
        const item = recallItem(rng, split, name === "recall" ? recipe.recallPairs : 16);
        const q = rng.int(item.pairs.length);
        const ex = recallExample(item, q);
        // distance: how many pairs sit between the queried one and the query
        push(ex.prompt, { ...ex, meta: { pairs: item.pairs.length, queried: q, distance: item.pairs.length - 1 - q } });
        break;
      }
      case "arithmetic": {
        const ex = arithmeticExample(arithmeticItem(rng, split));
        push(ex.prompt, ex);
        break;
      }
      case "copy": {
        const item = copyItem(rng, split);
        push(item.words.join(" "), { ...copyExample(item), meta: { words: item.words.length } });
        break;
      }
      default:
        throw new Error(`unknown dataset ${JSON.stringify(name)}; known: ${DATASETS.map((d) => d.name).join(", ")}`);
    }
  }
  return lines;
}

export function toJsonl(lines: readonly JsonlLine[]): string {
  return lines.map((l) => JSON.stringify(l)).join("\n") + "\n";
}

/**
 * Writes <dir>/<name>-<split>.jsonl for every dataset and the validation and test splits, plus
 * manifest.json (id, name, task, split, file, description) that registration reads.
 */
export function writeDatasets(dir: string, recipe: DataRecipe): string[] {
  fs.mkdirSync(dir, { recursive: true });
  const files: string[] = [];
  const manifest: Record<string, string>[] = [];
  for (const d of DATASETS)
    for (const split of ["validation", "test"] as const) {
      const base = `${d.name}-${split}.jsonl`;
      const file = path.join(dir, base);
      fs.writeFileSync(file, toJsonl(datasetLines(d.name, split, recipe)));
      files.push(file);
      const extra = d.name === "recall" ? ` ${recipe.recallPairs} pairs per example.` : "";
      manifest.push({ id: `${d.name}-${split}`, name: `${d.name} (${split})`, task: d.task, split, file: base, description: d.description + extra });
    }
  fs.writeFileSync(path.join(dir, "manifest.json"), JSON.stringify(manifest, null, 2) + "\n");
  return files;
}

/** Token lengths of the long-range datasets (zoo-long, docs/zoo.md). */
export const LONG_LENGTHS = [256, 512, 1024] as const;
/** Examples per split of each long dataset (kept small: the files hold up to 1024-token prompts). */
export const LONG_EXAMPLES_PER_SPLIT = 50;
/** key-value pairs per multi-query recall example. */
export const MQAR_EVAL_PAIRS = 8;
/** Tokens per grammar-long stream (4x zoo-long's context) and streams per split. */
export const GRAMMAR_LONG_TOKENS = 4096;
export const GRAMMAR_LONG_STREAMS = 8;

/** The long-range datasets: passkey-<L> and mqar-<L> for every length, and grammar-long. */
export const LONG_DATASETS: readonly DatasetSpec[] = [
  ...LONG_LENGTHS.flatMap((L): DatasetSpec[] => [
    {
      name: `passkey-${L}`,
      task: "exact-match",
      description: `Passkey retrieval: a ${5}-digit number hidden at a random depth in about ${L} tokens of grammar filler, asked for at the end.`,
    },
    {
      name: `mqar-${L}`,
      task: "recall",
      description: `Multi-query associative recall in about ${L} tokens: ${MQAR_EVAL_PAIRS} key-value pairs, queries inside grammar filler at power-law gaps (earlier queries answered), the last one open.`,
    },
  ]),
  {
    name: "grammar-long",
    task: "perplexity",
    description: `Grammar streams of about ${GRAMMAR_LONG_TOKENS} tokens (paragraphs separated by newlines), for perplexity beyond a model's context.`,
  },
];

/** The examples of one long dataset split; lengths counted with `count` (the zoo tokenizer). */
export function longDatasetLines(name: string, split: Split, recipe: DataRecipe, count: CountTokens): JsonlLine[] {
  const seedOf = (s: string) => (recipe.seed * 1_000_003 + [...`${name}/${s}`].reduce((h, c) => (h * 31 + c.charCodeAt(0)) | 0, 7)) | 0;
  const rng = new Rng(seedOf(split));
  const lines: JsonlLine[] = [];
  const m = /^(passkey|mqar)-(\d+)$/.exec(name);
  const n = name === "grammar-long" ? GRAMMAR_LONG_STREAMS : LONG_EXAMPLES_PER_SPLIT;
  for (let i = 0; i < n; i++) {
    const id = `${name}-${split}-${i}`;
    if (name === "grammar-long") lines.push({ id, text: grammarStream(rng, split, GRAMMAR_LONG_TOKENS, count) });
    else if (m?.[1] === "passkey") {
      const ex = passkeyExample(rng, split, Number(m[2]), count);
      lines.push({ id, prompt: ex.prompt, answer: ex.answer, meta: ex.meta });
    } else if (m?.[1] === "mqar") {
      const ex = mqarExample(rng, split, Number(m[2]), MQAR_EVAL_PAIRS, count);
      lines.push({ id, prompt: ex.prompt, answer: ex.answer, meta: ex.meta });
    } else throw new Error(`unknown long dataset ${JSON.stringify(name)}; known: ${LONG_DATASETS.map((d) => d.name).join(", ")}`);
  }
  return lines;
}

/** Writes the long datasets' validation and test splits into `dir` and adds them to manifest.json. */
export function writeLongDatasets(dir: string, recipe: DataRecipe, count: CountTokens): string[] {
  const files: string[] = [];
  const manifestFile = path.join(dir, "manifest.json");
  const manifest: Record<string, string>[] = JSON.parse(fs.readFileSync(manifestFile, "utf8"));
  for (const d of LONG_DATASETS)
    for (const split of ["validation", "test"] as const) {
      const base = `${d.name}-${split}.jsonl`;
      fs.writeFileSync(path.join(dir, base), toJsonl(longDatasetLines(d.name, split, recipe, count)));
      files.push(path.join(dir, base));
      const entry = { id: `${d.name}-${split}`, name: `${d.name} (${split})`, task: d.task, split, file: base, description: d.description };
      const at = manifest.findIndex((e) => e.id === entry.id);
      if (at >= 0) manifest[at] = entry;
      else manifest.push(entry);
    }
  fs.writeFileSync(manifestFile, JSON.stringify(manifest, null, 2) + "\n");
  return files;
}

/** Mixed training-split text for fitting the tokenizer: grammar, recall contexts, sums and copies. */
export function tokenizerCorpus(seed: number, paragraphs: number): string[] {
  const rng = new Rng(seed);
  const out: string[] = [];
  for (let i = 0; i < paragraphs; i++) {
    out.push(paragraph(rng, "train"));
    if (i % 4 === 0) {
      const item = recallItem(rng, "train", rng.range(2, 16));
      out.push(item.context + item.pairs.map(([k, v]) => ` ${k} ${v}\n`).join(""));
      out.push(copyExample(copyItem(rng, "train")).prompt);
      const a = arithmeticExample(arithmeticItem(rng, "train"));
      out.push(a.prompt + a.answer + "\n");
    }
  }
  return out;
}
