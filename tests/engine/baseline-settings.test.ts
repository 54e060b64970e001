/**
 * The job's side of baseline pairing: the server matches what it knows (model, dataset, runtime,
 * hardware, seed, onnxruntime version); the evaluation settings are the worker's, so a leased
 * baseline measured with other settings is set aside and a fresh one is measured in the job.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import fs from "node:fs";
import path from "node:path";
import { evalSettings, executeJob, type EngineOptions } from "@/workers/execute";
import type { JobReporter, JobSpec } from "@/workers/types";
import { perplexityJob, shapeOnlyRef, tempDir, writeJsonl, writeRandomModel } from "./fixtures";

let dir: string;
let spec: (baseline: JobSpec["baseline"]) => JobSpec;
const reporter: JobReporter = { stage() {}, progress() {}, log() {} };
const engine: EngineOptions = {
  quality: { maxExamples: 8, maxTokensPerText: 64 },
  bench: { promptLength: 16, decodeTokens: 4, warmup: 1, repeats: 3 },
};

beforeAll(() => {
  dir = tempDir("baseline-settings");
  const modelDir = path.join(dir, "model");
  writeRandomModel(modelDir);
  const datasetFile = writeJsonl(path.join(dir, "text.jsonl"), [{ text: "x" }]);
  let n = 0;
  spec = (baseline) => {
    const workDir = path.join(dir, `work-${++n}`);
    fs.mkdirSync(workDir);
    return perplexityJob(shapeOnlyRef("r", modelDir), { id: "text", file: datasetFile }, workDir, {
      runId: n,
      methodId: "quant.rtn",
      params: { bits: 8 },
      baseline,
    });
  };
});
afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

describe("leased baseline and the worker's evaluation settings", () => {
  it("uses a leased baseline measured with the same settings", async () => {
    const r = await executeJob(spec({ runId: 41, metrics: { model_bytes: 1e6, ...evalSettings(engine) } }), reporter, engine);
    expect(r.baselineMetrics).toBeUndefined();
    expect(r.notes).toContain("deltas against baseline run 41");
    expect(r.metrics.compression_ratio).toBeCloseTo(1e6 / r.metrics.model_bytes, 9);
    expect(r.metrics.speedup).toBeGreaterThan(0);
  }, 60_000);

  it("measures a fresh baseline when the leased one used other settings (or recorded none)", async () => {
    const other = { ...evalSettings(engine), bench_decode_tokens: 32 };
    const r = await executeJob(spec({ runId: 42, metrics: { model_bytes: 1e6, ...other } }), reporter, engine);
    expect(r.baselineMetrics?.bench_decode_tokens).toBe(4);
    expect(r.baselineMetrics?.decode_ms_per_token).toBeGreaterThan(0);
    expect(r.notes.join("\n")).toMatch(
      /baseline run 42 was measured with other evaluation settings \(bench_decode_tokens 32 vs 4\): measuring a fresh baseline/,
    );
    expect(r.metrics.compression_ratio).toBeCloseTo(r.baselineMetrics!.model_bytes / r.metrics.model_bytes, 9);

    const legacy = await executeJob(spec({ runId: 43, metrics: { model_bytes: 1e6 } }), reporter, engine);
    expect(legacy.baselineMetrics).toBeDefined();
  }, 60_000);
});
