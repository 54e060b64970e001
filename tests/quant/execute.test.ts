import fs from "node:fs";
import path from "node:path";
import * as ort from "onnxruntime-node";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { executeJob, type EngineOptions } from "../../workers/execute";
import type { JobReporter, JobResult, JobSpec } from "../../workers/types";
import { Rng } from "../../workers/data/rng";
import { tmpDir, writeTinyDecoder } from "./decoder-fixture";

let root: string;
let modelDir: string;
let datasetFile: string;
const reporter: JobReporter = { stage() {}, progress() {}, log() {} };
const engine: Partial<EngineOptions> = {
  quality: { maxExamples: 12, maxTokensPerText: 64 },
  bench: { promptLength: 16, decodeTokens: 4, warmup: 1, repeats: 2 },
};

beforeAll(() => {
  root = tmpDir("frontier-quant-exec-");
  modelDir = writeTinyDecoder(path.join(root, "model")).dir;
  const rng = new Rng(3);
  const words = ["alpha", "beta", "gamma", "delta", "quant", "model", "bits", "group", "scale", "zero"];
  const lines = Array.from({ length: 60 }, () => JSON.stringify({ text: Array.from({ length: 14 }, () => rng.pick(words)).join(" ") }));
  datasetFile = path.join(root, "text.jsonl");
  fs.writeFileSync(datasetFile, lines.join("\n") + "\n");
});
afterAll(() => fs.rmSync(root, { recursive: true, force: true }));

let runId = 0;
async function run(methodId: string, params: Record<string, unknown>, runtime: JobSpec["runtime"] = "cpu"): Promise<JobResult> {
  const workDir = path.join(root, `run-${++runId}`);
  fs.mkdirSync(workDir);
  const spec: JobSpec = {
    runId,
    methodId,
    params,
    model: {
      id: "tiny",
      kind: "decoder-lm",
      source: "path",
      files: { dir: modelDir, model: "model.onnx", tokenizer: "tokenizer.json", config: "config.json" },
      sha256: null,
      card: null,
    },
    dataset: { id: "text", task: "perplexity", file: datasetFile, sha256: null },
    runtime,
    seed: 1,
    workDir,
    baseline: null,
  };
  return executeJob(spec, reporter, engine);
}

async function expectLoadableModel(r: JobResult) {
  const art = r.artifacts.find((a) => a.kind === "model");
  expect(art).toBeDefined();
  expect(art!.sha256).toMatch(/^[0-9a-f]{64}$/);
  expect(fs.statSync(art!.path).size).toBe(art!.bytes);
  const session = await ort.InferenceSession.create(art!.path);
  expect(session.outputNames).toContain("logits");
  await session.release();
}

describe("quantization methods end to end through executeJob", () => {
  it("quant.rtn 8-bit keeps perplexity within 1% and stores about 8 bits per weight", async () => {
    const r = await run("quant.rtn", { bits: 8, group_size: 0 });
    const base = r.baselineMetrics!.perplexity;
    expect(Number.isFinite(r.metrics.perplexity)).toBe(true);
    expect(Math.abs(r.metrics.perplexity - base) / base).toBeLessThan(0.01);
    // per channel, MatMulNBits pads K up to a power-of-two block: down_proj's K = 96 is stored as
    // 128 codes per row, which bits_effective counts (the tiny model's average is 9.0)
    expect(r.metrics.bits_effective).toBeGreaterThan(8);
    expect(r.metrics.bits_effective).toBeLessThan(9.1);
    expect(r.metrics.model_bytes).toBeLessThan(r.baselineMetrics!.model_bytes);
    expect(r.notes.join("\n")).toMatch(/format matmulnbits/);
    await expectLoadableModel(r);
  });

  it("quant.gptq 3-bit runs with calibration and stores its codes in 4-bit DequantizeLinear containers", async () => {
    const r = await run("quant.gptq", { bits: 3, group_size: 32, calib_samples: 4 });
    expect(r.notes.join("\n")).toMatch(/format qdq/);
    expect(r.metrics.bits_effective).toBeCloseTo(4 + 32 / 32 + 4 / 32, 6);
    expect(Number.isFinite(r.metrics.quality_delta)).toBe(true);
    await expectLoadableModel(r);
  });

  it("quant.awq 4-bit folds its scales and checks equivalence before quantizing", async () => {
    const r = await run("quant.awq", { bits: 4, group_size: 32, calib_samples: 4, alpha_grid: 5 });
    const notes = r.notes.join("\n");
    expect(notes).toMatch(/folded float model matches the original/);
    expect(notes).toMatch(/4 into norm weights|into norm weights/);
    expect(r.metrics.bits_effective).toBeGreaterThan(4);
    await expectLoadableModel(r);
  });

  it("quant.smoothquant runs W8A8 with run-time activation quantization", async () => {
    const r = await run("quant.smoothquant", { alpha: 0.5, calib_samples: 4 });
    expect(r.notes.join("\n")).toMatch(/format w8a8/);
    expect(r.metrics.bits_effective).toBeGreaterThan(8);
    expect(Number.isFinite(r.metrics.perplexity)).toBe(true);
    await expectLoadableModel(r);
  });

  it("quant.hqq 4-bit keeps fractional zero points exactly (integer part in MatMulNBits, the rest as a correction)", async () => {
    const r = await run("quant.hqq", { bits: 4, group_size: 32, iters: 10 });
    expect(r.notes.join("\n")).toMatch(/fractional zero points/);
    // per 32 weights: 4-bit codes, a float32 scale, a 4-bit zero point and a float32 correction,
    // plus the group-sum matrices shared per input width
    expect(r.metrics.bits_effective).toBeGreaterThan(4 + 1 + 4 / 32 + 1);
    expect(r.metrics.bits_effective).toBeLessThan(6.6);
    await expectLoadableModel(r);
  });

  it("on the wasm runtime 4-bit goes to DequantizeLinear, which onnxruntime-web loads and runs", async () => {
    const r = await run("quant.rtn", { bits: 4, group_size: 32 }, "wasm");
    expect(r.notes.join("\n")).toMatch(/format qdq/);
    expect(r.hardware.runtime).toBe("wasm");
    expect(Number.isFinite(r.metrics.perplexity)).toBe(true);
    expect(r.metrics.perplexity).not.toBe(r.baselineMetrics!.perplexity);
    await expectLoadableModel(r);
  });

  it("rejects a keep_layers entry that matches nothing, naming it", async () => {
    await expect(run("quant.rtn", { bits: 4, keep_layers: ["no_such_layer"] })).rejects.toThrow(/no_such_layer/);
  });
});
