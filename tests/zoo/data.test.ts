import { describe, it, expect } from "vitest";
import fs from "node:fs";
import path from "node:path";
import { Rng, DATASETS, datasetLines, toJsonl, splitOf, sentence, recallItem, arithmeticItem, copyItem, paragraph } from "@/workers/data";
import { RECIPE } from "@/workers/train/zoo";
import { RowSource } from "@/workers/train/batches";
import { trainBpe } from "@/workers/tokenizer/train-bpe";
import { tokenizerFromJson } from "@/workers/tokenizer/tokenizer";
import { tokenizerCorpus } from "@/workers/data";

const small = { seed: 5, recallPairs: 6, examplesPerSplit: 40 };

describe("generators", () => {
  it("are deterministic: the same seed gives the same bytes", () => {
    for (const d of DATASETS) {
      expect(toJsonl(datasetLines(d.name, "test", small))).toBe(toJsonl(datasetLines(d.name, "test", small)));
    }
    const a = new Rng(11);
    const b = new Rng(11);
    expect(Array.from({ length: 20 }, () => sentence(a))).toEqual(Array.from({ length: 20 }, () => sentence(b)));
    expect(toJsonl(datasetLines("grammar", "test", { ...small, seed: 6 }))).not.toBe(toJsonl(datasetLines("grammar", "test", small)));
  });

  it("the committed zoo datasets are exactly what the generators produce", () => {
    const dir = path.join(process.cwd(), "zoo", "datasets");
    if (!fs.existsSync(dir)) return;
    for (const d of DATASETS)
      for (const split of ["validation", "test"] as const) {
        const committed = fs.readFileSync(path.join(dir, `${d.name}-${split}.jsonl`), "utf8");
        expect(committed).toBe(toJsonl(datasetLines(d.name, split, RECIPE)));
      }
  });

  it("write the shapes of docs/datasets.md", () => {
    const grammar = datasetLines("grammar", "validation", small);
    expect(grammar.every((l) => typeof l.text === "string" && (l.text as string).length > 10)).toBe(true);
    const recall = datasetLines("recall", "test", small);
    for (const l of recall) {
      const prompt = l.prompt as string;
      const answer = l.answer as string;
      expect(prompt.split("\n")[0].split(", ")).toHaveLength(6);
      const key = /\n (\w+)$/.exec(prompt)![1];
      expect(prompt.split("\n")[0]).toMatch(new RegExp(` ${key}${answer}(,|$)`));
    }
    for (const l of datasetLines("arithmetic", "test", small)) {
      const [a, b] = (l.prompt as string).slice(0, -1).split("+").map(Number);
      expect(Number(l.answer)).toBe(a + b);
    }
    for (const l of datasetLines("copy", "test", small)) expect((l.prompt as string).endsWith(`${(l.answer as string).trim()} |`)).toBe(true);
    for (const l of datasetLines("grammar-mc", "test", small)) {
      expect((l.choices as string[]).length).toBe(2);
      expect([0, 1]).toContain(l.label);
    }
  });
});

describe("splits", () => {
  it("every evaluation item hashes into its own split", () => {
    for (const split of ["validation", "test"] as const) {
      const rng = new Rng(3);
      for (let i = 0; i < 50; i++) {
        expect(splitOf(sentence(rng))).toBeDefined();
        const r = recallItem(rng, split, 5);
        expect(splitOf(r.context)).toBe(split);
        const a = arithmeticItem(rng, split);
        expect(splitOf(`${a.a}+${a.b}`)).toBe(split);
        const c = copyItem(rng, split);
        expect(splitOf(c.words.join(" "))).toBe(split);
      }
      const text = paragraph(rng, split, 4, 4);
      for (const s of text.match(/[^.?]+[.?]/g)!) expect(splitOf(s.trim())).toBe(split);
    }
  });

  it("no test item appears in a large sample of training items", () => {
    const test = datasetLines("arithmetic", "test", RECIPE).map((l) => l.prompt as string);
    const grammarTest = new Set(datasetLines("grammar", "test", RECIPE).flatMap((l) => (l.text as string).match(/[^.?]+[.?]/g)!.map((s) => s.trim())));
    const rng = new Rng(99);
    const trainSums = new Set<string>();
    for (let i = 0; i < 20000; i++) {
      const a = arithmeticItem(rng, "train");
      trainSums.add(`${a.a}+${a.b}=`);
    }
    expect(test.filter((p) => trainSums.has(p))).toEqual([]);
    let clash = 0;
    for (let i = 0; i < 3000; i++) for (const s of paragraph(rng, "train", 1, 1).match(/[^.?]+[.?]/g)!) if (grammarTest.has(s.trim())) clash++;
    expect(clash).toBe(0);
  });
});

describe("training rows", () => {
  const tok = tokenizerFromJson(trainBpe(tokenizerCorpus(1, 300), 400).json);
  const mix = { weights: { grammar: 1, recall: 1, arithmetic: 1, copy: 1 }, recallMinPairs: 2, recallMaxPairs: 8, recallCurriculum: 0.5 };

  it("score only answers on task rows and are reproducible", () => {
    const a = new RowSource(tok, 64, mix, new Rng(1));
    const b = new RowSource(tok, 64, mix, new Rng(1));
    for (let i = 0; i < 12; i++) {
      const ra = a.next(0.5);
      const rb = b.next(0.5);
      expect(Array.from(ra.ids)).toEqual(Array.from(rb.ids));
      expect(ra.ids.length).toBe(65);
      if (ra.kind === "grammar") expect(ra.scored.every((s) => s === 1)).toBe(true);
      else {
        const scoredText = tok.decode(Array.from(ra.ids).filter((_, j) => ra.scored[j] === 1));
        if (ra.kind === "arithmetic") expect(scoredText).toMatch(/^(\d+\n)+$/);
        if (ra.kind === "recall") expect(scoredText).toMatch(/^( [a-z]+\n)+$/);
      }
    }
  });
});
