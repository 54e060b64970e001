/**
 * Unstructured pruning on a user's own export (tests/fixtures/export: torch.onnx.export at opset
 * 14, optimum's layout, with and without constant folding): decoder layers found from the graph,
 * every decoder-layer linear pruned, the head left dense, the model still scoring.
 */
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { executeJob, type EngineOptions } from "../../workers/execute";
import { getInitializer, readModel } from "../../workers/onnx/model-io";
import { quantizableLinears } from "../../workers/methods/quantization/emit";
import type { JobReporter, JobResult } from "../../workers/types";
import { pathModelRef, perplexityJob } from "../engine/fixtures";

const FIXTURES = path.resolve(__dirname, "../fixtures/export");
const ZOO_DATA = path.resolve(__dirname, "../../zoo/datasets");
const reporter: JobReporter = { stage() {}, progress() {}, log() {} };
const engine: Partial<EngineOptions> = {
  quality: { maxExamples: 30, maxTokensPerText: 128 },
  bench: { promptLength: 8, decodeTokens: 2, warmup: 0, repeats: 1 },
};

let root: string;
let testFile: string;
let validationFile: string;
let runId = 0;

const firstLines = (file: string, n: number) =>
  fs
    .readFileSync(file, "utf8")
    .split("\n")
    .filter((l) => l.trim())
    .slice(0, n);

beforeAll(() => {
  root = fs.mkdtempSync(path.join(os.tmpdir(), "frontier-export-prune-"));
  testFile = path.join(root, "grammar-test-30.jsonl");
  fs.writeFileSync(testFile, `${firstLines(path.join(ZOO_DATA, "grammar-test.jsonl"), 30).join("\n")}\n`);
  validationFile = path.join(root, "grammar-validation-40.jsonl");
  fs.writeFileSync(validationFile, `${firstLines(path.join(ZOO_DATA, "grammar-validation.jsonl"), 40).join("\n")}\n`);
});
afterAll(() => fs.rmSync(root, { recursive: true, force: true }));

function run(fixture: string, methodId: string, params: Record<string, unknown>): Promise<JobResult> {
  const workDir = path.join(root, `run-${++runId}`);
  fs.mkdirSync(workDir);
  const spec = perplexityJob(pathModelRef(fixture, path.join(FIXTURES, fixture)), { id: "grammar-test-30", file: testFile }, workDir, {
    runId,
    methodId,
    params,
    calibration: { id: "grammar-validation-40", task: "perplexity", file: validationFile, sha256: null },
  });
  return executeJob(spec, reporter, engine);
}

describe("unstructured pruning on torch exports", () => {
  for (const [fixture, methodId, pattern] of [
    ["llama-opset14", "prune.wanda", "unstructured"],
    ["llama-opset14-nofold", "prune.sparsegpt", "2:4"],
  ] as const) {
    it(`${methodId} ${pattern} on ${fixture}: 14 decoder-layer linears pruned, head dense, perplexity within reach of the dense model`, async () => {
      const r = await run(fixture, methodId, { sparsity: 0.5, pattern, calib_samples: 4 });
      const notes = r.notes.join("\n");
      expect(notes).toMatch(/2 layer-sequential calibration passes/);
      expect(notes).toMatch(/14 linear layers pruned/);
      expect(r.metrics.sparsity).toBeCloseTo(0.5, 6);
      const file = r.artifacts.find((a) => a.kind === "model")!.path;
      const model = readModel(file);
      const zeros = quantizableLinears(model).targets.map((t) => {
        const w = getInitializer(model, t.weightName).data as Float32Array;
        return w.reduce((a, v) => a + (v === 0 ? 1 : 0), 0) / w.length;
      });
      // 14 linears at 50%, and the head (the largest matrix, 64 x 640) with no zero
      expect(zeros.filter((z) => Math.abs(z - 0.5) < 1e-9).length).toBe(14);
      expect(zeros.filter((z) => z === 0).length).toBe(1);
      const base = r.baselineMetrics!.perplexity;
      expect(Number.isFinite(r.metrics.perplexity)).toBe(true);
      expect(r.metrics.perplexity).toBeGreaterThan(base * 0.98);
      expect(r.metrics.perplexity).toBeLessThan(base * 2);
    });
  }
});
