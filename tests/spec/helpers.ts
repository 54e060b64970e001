/** The zoo models and datasets the speculative decoding tests run on. */
import path from "node:path";
import { openDecoder, type DecoderSession } from "../../workers/eval/decoder-session";
import type { TextTokenizer } from "../../workers/eval/types";
import { loadTokenizer } from "../../workers/tokenizer/tokenizer";
import { generationPrompts } from "../../workers/methods/speculative/run";

export const ZOO = path.resolve(import.meta.dirname, "../../zoo");

export const zooModel = (id: string) => path.join(ZOO, id, "model.onnx");

export const openZoo = (id: string): Promise<DecoderSession> => openDecoder(zooModel(id), "cpu");

export const zooTokenizer = async (): Promise<TextTokenizer> => loadTokenizer(path.join(ZOO, "tokenizer.json"));

const TASKS = { "copy-test": "exact-match", "recall-test": "recall", "grammar-test": "perplexity" } as const;

/** `n` prompts of a zoo dataset in seed 1's order, leaving room for `maxNew` tokens. */
export function zooPrompts(tok: TextTokenizer, dataset: keyof typeof TASKS, n: number, maxNew: number): number[][] {
  return generationPrompts({ file: path.join(ZOO, "datasets", `${dataset}.jsonl`), task: TASKS[dataset] }, tok, 1, n, {
    maxNew,
    maxPosition: 128,
    textPromptTokens: 16,
  });
}
