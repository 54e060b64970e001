/**
 * Reads a dataset JSONL file (docs/datasets.md), validates every line against its task's shape and
 * orders the examples with a seeded shuffle. The first N of that order are scored; calibration
 * draws from the rest, so a method never calibrates on the examples it is scored on.
 */
import fs from "node:fs";
import { z } from "zod";
import type { DatasetTask } from "../../lib/domain";
import type { DatasetRef } from "../types";

const meta = { id: z.union([z.string(), z.number()]).optional(), meta: z.unknown().optional() };
export const PerplexityExample = z.object({ text: z.string().min(1), ...meta });
export const ExactMatchExample = z.object({ prompt: z.string().min(1), answer: z.string().min(1), ...meta });
export const MultipleChoiceExample = z
  .object({ prompt: z.string().min(1), choices: z.array(z.string().min(1)).min(2), label: z.number().int().min(0), ...meta })
  .refine((e) => e.label < e.choices.length, { message: "label must index into choices", path: ["label"] });

export type PerplexityExample = z.infer<typeof PerplexityExample>;
export type ExactMatchExample = z.infer<typeof ExactMatchExample>;
export type MultipleChoiceExample = z.infer<typeof MultipleChoiceExample>;

export type Examples =
  | { task: "perplexity"; examples: PerplexityExample[] }
  | { task: "exact-match" | "recall"; examples: ExactMatchExample[] }
  | { task: "multiple-choice"; examples: MultipleChoiceExample[] };

/** The example shape each task is scored from; null for a task no evaluator scores yet. */
const schemaFor: Record<DatasetTask, z.ZodType | null> = {
  perplexity: PerplexityExample,
  "exact-match": ExactMatchExample,
  recall: ExactMatchExample,
  "multiple-choice": MultipleChoiceExample,
  "long-context": null,
};

/** Parses the whole file; a bad line fails with its line number and what is wrong. */
export function readDataset(ref: Pick<DatasetRef, "file" | "task">): Examples {
  if (!fs.existsSync(ref.file)) throw new Error(`dataset file not found: ${ref.file}`);
  if (!(ref.task in schemaFor)) throw new Error(`unknown dataset task "${ref.task}"`);
  const schema = schemaFor[ref.task];
  if (!schema) throw new Error(`dataset task "${ref.task}" has no evaluator in this worker yet; nothing can score ${ref.file}`);
  const lines = fs.readFileSync(ref.file, "utf8").split("\n");
  const examples: unknown[] = [];
  lines.forEach((line, i) => {
    if (!line.trim()) return;
    let json: unknown;
    try {
      json = JSON.parse(line);
    } catch {
      throw new Error(`${ref.file}:${i + 1}: not valid JSON`);
    }
    const r = schema.safeParse(json);
    if (!r.success) {
      const issue = r.error.issues[0];
      throw new Error(`${ref.file}:${i + 1}: ${ref.task} example: ${issue.path.join(".") || "line"}: ${issue.message}`);
    }
    examples.push(r.data);
  });
  if (examples.length === 0) throw new Error(`${ref.file}: no examples`);
  return { task: ref.task, examples } as Examples;
}

/** mulberry32: a small, exactly reproducible generator; the seed is recorded with every run. */
export function seededRng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** Fisher-Yates order of indices 0..n-1 under `seed`. */
export function shuffledOrder(n: number, seed: number): number[] {
  const rng = seededRng(seed);
  const order = Array.from({ length: n }, (_, i) => i);
  for (let i = n - 1; i > 0; i--) {
    const j = Math.floor(rng() * (i + 1));
    [order[i], order[j]] = [order[j], order[i]];
  }
  return order;
}

/** Splits the seeded order into the scored examples (first `maxExamples`) and the rest. */
export function splitExamples<T>(examples: T[], seed: number, maxExamples: number): { scored: T[]; rest: T[] } {
  const order = shuffledOrder(examples.length, seed).map((i) => examples[i]);
  return { scored: order.slice(0, maxExamples), rest: order.slice(maxExamples) };
}

/** The text of an example as a language-modelling sequence (calibration uses it). */
export function exampleText(e: PerplexityExample | ExactMatchExample | MultipleChoiceExample): string {
  if ("text" in e) return e.text;
  if ("answer" in e) return `${e.prompt}${e.answer}`;
  return `${e.prompt}${e.choices[e.label]}`;
}
