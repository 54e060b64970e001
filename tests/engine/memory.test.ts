/**
 * Peak memory in a fresh process per model, through the job pipeline: a 4-bit RTN run on a decoder
 * of ~80 MB (fp32) must be charged less than its fp32 base, which it never is when both are read
 * from the job's own process (the fp32 model was loaded there first).
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import fs from "node:fs";
import path from "node:path";
import { executeJob } from "@/workers/execute";
import { freshProcessMemory } from "@/workers/eval/bench";
import type { JobReporter } from "@/workers/types";
import { perplexityJob, shapeOnlyRef, tempDir, writeJsonl, writeRandomModel } from "./fixtures";

let dir: string;
let modelDir: string;
let datasetFile: string;
const reporter: JobReporter = { stage() {}, progress() {}, log() {} };

beforeAll(() => {
  dir = tempDir("memory");
  modelDir = path.join(dir, "model");
  // 6 layers x hidden 512, intermediate 1536: 20.4M linear weights (81 MB fp32), small vocab so
  // almost all of it is quantized.
  writeRandomModel(modelDir, {
    config: { vocab_size: 512, num_layers: 6, num_heads: 8, num_kv_heads: 8, hidden_size: 512, intermediate_size: 1536, max_position: 64 },
  });
  datasetFile = writeJsonl(path.join(dir, "text.jsonl"), [{ text: "unused: shape-only model" }]);
});
afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

describe("peak RSS in a fresh process per model", () => {
  it("charges a 4-bit RTN model less than its fp32 base, and the run's speedup comes with an interval", async () => {
    const workDir = path.join(dir, "work");
    fs.mkdirSync(workDir);
    const spec = perplexityJob(shapeOnlyRef("rand", modelDir), { id: "text", file: datasetFile }, workDir, {
      methodId: "quant.rtn",
      params: { bits: 4 },
      seed: 3,
    });
    const r = await executeJob(spec, reporter, { bench: { promptLength: 16, decodeTokens: 4, warmup: 1, repeats: 6 } });
    const base = r.baselineMetrics!;
    const run = r.metrics;
    expect(base.weights_bytes).toBeGreaterThan(80e6);
    expect(run.weights_bytes).toBeLessThan(base.weights_bytes / 4);
    // Measured on the 2-core test box: fp32 219.4 MiB, 4-bit 153.1 MiB (the runtime alone about 100 MiB).
    expect(run.peak_rss_bytes).toBeLessThan(base.peak_rss_bytes - 40 * 2 ** 20);
    expect(run.speedup_lo).toBeLessThanOrEqual(run.speedup);
    expect(run.speedup_hi).toBeGreaterThanOrEqual(run.speedup);
    expect(run.bench_prompt_length).toBe(16);
    expect(base.bench_decode_tokens).toBe(4);
    const notes = r.notes.join("\n");
    expect(notes).toMatch(/peak_rss_bytes of model\.onnx: [\d.]+ MiB in a fresh process that loads only it on cpu/);
    expect(notes).toMatch(/baseline peak_rss_bytes of model\.onnx/);
    console.log(`fresh-process peak RSS: fp32 ${(base.peak_rss_bytes / 2 ** 20).toFixed(1)} MiB, RTN-4 ${(run.peak_rss_bytes / 2 ** 20).toFixed(1)} MiB`);
  }, 120_000);

  it("reports a probe that cannot load its model as a note, not a figure", async () => {
    const r = await freshProcessMemory(path.join(dir, "missing.onnx"), "cpu", { promptLength: 4, decodeTokens: 1, seed: 0 });
    expect(r.metrics.peak_rss_bytes).toBeUndefined();
    expect(r.notes.join("\n")).toMatch(/peak_rss_bytes not measured: memory probe for missing\.onnx/);
  }, 60_000);
});
