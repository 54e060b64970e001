import { afterAll, beforeAll, describe, expect, it } from "vitest";
import fs from "node:fs";
import path from "node:path";
import { openDecoder, type DecoderSession } from "@/workers/eval/decoder-session";
import { evaluateDataset, evaluatePerplexity, scoreTokens } from "@/workers/eval/quality";
import { readDataset, shuffledOrder, splitExamples } from "@/workers/eval/dataset";
import { loadTokenizer, type Tokenizer } from "@/workers/tokenizer/tokenizer";
import { BIGRAM_VOCAB, EOS, P_NEXT, P_OTHER, tempDir, writeBigramModel, writeJsonl } from "./fixtures";

let dir: string;
let decoder: DecoderSession;
let tokenizer: Tokenizer;

beforeAll(async () => {
  dir = tempDir("quality");
  const modelPath = writeBigramModel(dir);
  decoder = await openDecoder(modelPath, "cpu");
  tokenizer = loadTokenizer(path.join(dir, "tokenizer.json"));
});
afterAll(async () => {
  await decoder?.release();
  fs.rmSync(dir, { recursive: true, force: true });
});

const A = 0x41; // byte-level ids: 'A'

describe("perplexity on a hand-computed case", () => {
  it("the bigram model's logits are log P(v | k) exactly", async () => {
    expect(tokenizer.encode("AB")).toEqual([A, A + 1]);
    const lps = await decoder.logprobs([A], [A + 1, A + 3]);
    expect(lps[0]).toBeCloseTo(Math.log(P_NEXT), 5);
    expect(lps[1]).toBeCloseTo(Math.log(P_OTHER), 5);
  });

  it("scores every token after the prepended end-of-text token", async () => {
    // "ABAB" -> [eos, A, B, A, B]: transitions eos->A (other), A->B (next), B->A (other), A->B (next).
    const nll = 2 * -Math.log(P_NEXT) + 2 * -Math.log(P_OTHER);
    const s = await scoreTokens(decoder, [EOS, A, A + 1, A, A + 1]);
    expect(s.tokens).toBe(4);
    expect(s.nll).toBeCloseTo(nll, 4);

    // Two texts: "ABAB" as above and "CD" -> eos->C (other), C->D (next).
    const total = nll + -Math.log(P_OTHER) + -Math.log(P_NEXT);
    const r = await evaluatePerplexity(decoder, tokenizer, ["ABAB", "CD"]);
    expect(r.metrics.eval_tokens).toBe(6);
    expect(r.metrics.perplexity).toBeCloseTo(Math.exp(total / 6), 3);
    expect(r.metrics.bits_per_byte).toBeCloseTo(total / Math.LN2 / 6, 4);
  });

  it("truncates texts longer than the context from the left and says so", async () => {
    const long = "ABCDE".repeat(20); // 100 tokens + eos > max_position 64
    const r = await evaluatePerplexity(decoder, tokenizer, [long]);
    expect(r.metrics.eval_tokens).toBe(63);
    expect(r.notes.join("\n")).toMatch(/1 texts longer than 64 tokens were truncated from the left/);
  });
});

describe("exact match and multiple choice on a tiny dataset file", () => {
  it("greedy generation stops at end-of-text and compares trimmed text", async () => {
    // Greedy from k continues k+1, k+2, ... up to 'E', which is followed by a newline.
    const file = writeJsonl(path.join(dir, "em.jsonl"), [
      { prompt: "A", answer: "BCDE" },
      { prompt: "C", answer: " DE " },
      { prompt: "A", answer: "BD" },
    ]);
    const r = await evaluateDataset(decoder, tokenizer, { file, task: "exact-match" }, 1, { maxExamples: 10, maxTokensPerText: 64 });
    expect(r.metrics.exact_match).toBeCloseTo(2 / 3, 10);
    expect(r.metrics.eval_examples).toBe(3);
    expect(r.notes[0]).toMatch(/scored 3 of 3 examples after a shuffle with seed 1/);
  });

  it("generate stops after a stop token, which it includes", async () => {
    expect(await decoder.generate([A], 10, new Set([0x0a]))).toEqual([0x42, 0x43, 0x44, 0x45, 0x0a]);
    expect(await decoder.generate([A], 2)).toEqual([0x42, 0x43]);
  });

  it("multiple choice picks the choice with the highest summed log-likelihood", async () => {
    const file = writeJsonl(path.join(dir, "mc.jsonl"), [
      { prompt: "A", choices: ["B", "C"], label: 0 }, // log .5 vs log(.5/39): right
      { prompt: "A", choices: ["BC", "D"], label: 1 }, // 2 log .5 = -1.39 beats log(.5/39) = -4.36: wrong
      { prompt: "AB", choices: ["D", "C", "E"], label: 1 }, // right
    ]);
    const r = await evaluateDataset(decoder, tokenizer, { file, task: "multiple-choice" }, 3, { maxExamples: 10, maxTokensPerText: 64 });
    expect(r.metrics.accuracy).toBeCloseTo(2 / 3, 10);
  });

  it("scores only the first N examples of the seeded shuffle", async () => {
    const rows = Array.from({ length: 10 }, (_, i) => ({ prompt: "C", answer: i < 5 ? "DE" : "XX", id: i }));
    const file = writeJsonl(path.join(dir, "em10.jsonl"), rows);
    const { scored } = splitExamples(rows, 42, 4);
    const expected = scored.filter((r) => r.answer === "DE").length / 4;
    expect(expected).toBeGreaterThan(0); // seed 42 mixes both kinds into the first 4
    expect(expected).toBeLessThan(1);
    const r = await evaluateDataset(decoder, tokenizer, { file, task: "exact-match" }, 42, { maxExamples: 4, maxTokensPerText: 64 });
    expect(r.metrics.eval_examples).toBe(4);
    expect(r.metrics.exact_match).toBe(expected);
    expect(shuffledOrder(10, 42)).toEqual(shuffledOrder(10, 42));
    expect(shuffledOrder(10, 42)).not.toEqual(shuffledOrder(10, 43));
  });

  it("rejects a malformed line with its line number", () => {
    const file = path.join(dir, "bad.jsonl");
    fs.writeFileSync(file, '{"prompt":"A","choices":["B","C"],"label":0}\n{"prompt":"A","choices":["B"],"label":3}\n');
    expect(() => readDataset({ file, task: "multiple-choice" })).toThrow(/bad\.jsonl:2: multiple-choice example: choices/);
  });

  it("refuses a dataset whose task no evaluator scores yet, saying so", () => {
    const file = path.join(dir, "passkey.jsonl");
    fs.writeFileSync(file, '{"prompt":"... the passkey is 4821 ... What is the passkey?","answer":"4821"}\n');
    expect(() => readDataset({ file, task: "long-context" })).toThrow(/task "long-context" has no evaluator in this worker yet/);
  });

  it("has the vocabulary the hand computations assume", () => {
    expect(decoder.shape.vocabSize).toBe(BIGRAM_VOCAB);
    expect(tokenizer.eosId).toBe(EOS);
  });
});
