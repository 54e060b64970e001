/**
 * The torch.onnx.export fixtures (tests/fixtures/export, made by scripts/make-export-fixture.py):
 * the baseline run through executeJob scores the same perplexity PyTorch did, for the folded and
 * the unfolded export.
 */
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { executeJob } from "../../workers/execute";
import type { JobReporter } from "../../workers/types";
import { pathModelRef, perplexityJob } from "../engine/fixtures";

const FIXTURES = path.resolve(__dirname, "../fixtures/export");
const TEST_SET = path.resolve(__dirname, "../../zoo/datasets/grammar-test.jsonl");
const reporter: JobReporter = { stage() {}, progress() {}, log() {} };

interface Reference {
  perplexity: number;
  eval_examples: number;
  eval_tokens: number;
}

let root: string;
let datasetFile: string;

beforeAll(() => {
  root = fs.mkdtempSync(path.join(os.tmpdir(), "frontier-export-fixture-"));
  // the reference's texts: the first 100 of grammar-test in file order
  const lines = fs
    .readFileSync(TEST_SET, "utf8")
    .split("\n")
    .filter((l) => l.trim())
    .slice(0, 100);
  datasetFile = path.join(root, "grammar-test-100.jsonl");
  fs.writeFileSync(datasetFile, `${lines.join("\n")}\n`);
});
afterAll(() => fs.rmSync(root, { recursive: true, force: true }));

describe("exported Llama fixtures through the worker pipeline", () => {
  for (const name of ["llama-opset14", "llama-opset14-nofold"]) {
    it(`${name}: baseline perplexity equals PyTorch's within 0.5%`, async () => {
      const dir = path.join(FIXTURES, name);
      const reference = JSON.parse(fs.readFileSync(path.join(dir, "reference.json"), "utf8")) as Reference;
      const workDir = path.join(root, name);
      fs.mkdirSync(workDir);
      const spec = perplexityJob(pathModelRef(name, dir), { id: "grammar-test-100", file: datasetFile }, workDir, { calibration: null });
      const r = await executeJob(spec, reporter, {
        quality: { maxExamples: 100, maxTokensPerText: 512 },
        bench: { promptLength: 8, decodeTokens: 2, warmup: 0, repeats: 1 },
      });
      expect(r.metrics.eval_examples).toBe(reference.eval_examples);
      expect(r.metrics.eval_tokens).toBe(reference.eval_tokens);
      const ppl = r.metrics.perplexity;
      expect(Math.abs(ppl - reference.perplexity) / reference.perplexity).toBeLessThan(0.005);
    }, 20_000);
  }
});
