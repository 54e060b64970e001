import fs from "node:fs";
import path from "node:path";
import * as ort from "onnxruntime-node";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { executeJob, type EngineOptions } from "../../workers/execute";
import type { JobReporter, JobResult, JobSpec } from "../../workers/types";
import { Rng } from "../../workers/data/rng";
import { pathModelRef, perplexityJob } from "../engine/fixtures";
import { tmpDir, writeTinyDecoder } from "./decoder-fixture";

let root: string;
let modelDir: string;
let datasetFile: string;
let validationFile: string;
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
  fs.writeFileSync(datasetFile, lines.slice(0, 40).join("\n") + "\n");
  validationFile = path.join(root, "text-validation.jsonl");
  fs.writeFileSync(validationFile, lines.slice(40).join("\n") + "\n");
});
afterAll(() => fs.rmSync(root, { recursive: true, force: true }));

/** Short subject-verb agreement items, as the zoo's multiple-choice splits have: a few hundred tokens in all. */
function writeMultipleChoice(file: string, count: number, seed: number): string {
  const rng = new Rng(seed);
  const nouns = ["cat", "model", "group", "scale"];
  const lines = Array.from({ length: count }, () => {
    const plural = rng.next() < 0.5;
    const label = rng.next() < 0.5 ? 0 : 1;
    const right = plural ? "are" : "is";
    const wrong = plural ? "is" : "are";
    return JSON.stringify({
      prompt: `the ${rng.pick(nouns)}${plural ? "s" : ""} near the ${rng.pick(nouns)} `,
      choices: label === 0 ? [right, wrong] : [wrong, right],
      label,
    });
  });
  fs.writeFileSync(file, lines.join("\n") + "\n");
  return file;
}

let runId = 0;
async function run(
  methodId: string,
  params: Record<string, unknown>,
  runtime: JobSpec["runtime"] = "cpu",
  data: Pick<JobSpec, "dataset" | "calibration"> = {
    dataset: { id: "text", task: "perplexity", file: datasetFile, sha256: null },
    calibration: { id: "text-validation", task: "perplexity", file: validationFile, sha256: null },
  },
  log: JobReporter["log"] = () => {},
): Promise<JobResult> {
  const workDir = path.join(root, `run-${++runId}`);
  fs.mkdirSync(workDir);
  const spec: JobSpec = {
    ...perplexityJob(pathModelRef("tiny", modelDir), { id: "text", file: datasetFile }, workDir, { runId, methodId, params, runtime }),
    ...data,
  };
  return executeJob(spec, { ...reporter, log }, engine);
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
    // 128 codes per row, which bits_effective counts (the tiny model's average without the float
    // head is 9.12)
    expect(r.metrics.bits_effective).toBeGreaterThan(8);
    expect(r.metrics.bits_effective).toBeLessThan(9.2);
    expect(r.metrics.model_bytes).toBeLessThan(r.baselineMetrics!.model_bytes);
    expect(r.notes.join("\n")).toMatch(/format matmulnbits/);
    await expectLoadableModel(r);
  });

  it("keeps the output head in float32 unless quantize_head, and says so; weight-only by default", async () => {
    const kept = await run("quant.rtn", { bits: 4, group_size: 32 });
    expect(kept.notes.join("\n")).toMatch(/output head in float32 \(the reference convention/);
    expect(kept.notes.join("\n")).toMatch(/W4A16 weight-only/);
    const quantized = await run("quant.rtn", { bits: 4, group_size: 32, quantize_head: true });
    expect(quantized.notes.join("\n")).toMatch(/output head quantized/);
    // one more linear quantized: smaller file
    expect(quantized.metrics.model_bytes).toBeLessThan(kept.metrics.model_bytes);
  });

  it("quant.gptq 3-bit runs with calibration and stores its codes in 4-bit DequantizeLinear containers", async () => {
    const r = await run("quant.gptq", { bits: 3, group_size: 32, calib_samples: 4 });
    expect(r.notes.join("\n")).toMatch(/format qdq/);
    expect(r.metrics.bits_effective).toBeCloseTo(4 + 32 / 32 + 4 / 32, 6);
    // and the information the weights carry: the same with the 3-bit codes packed densely, labelled
    expect(r.metrics.bits_packed).toBeCloseTo(3 + 32 / 32 + 4 / 32, 6);
    expect(r.notes.join("\n")).toMatch(/bits_packed 4\.125: the same with the codes packed densely/);
    expect(Number.isFinite(r.metrics.quality_delta)).toBe(true);
    await expectLoadableModel(r);
  });

  it("quant.gptq calibrates on the validation split of a small multiple-choice test set, with fewer sequences than asked", async () => {
    const test = { id: "mc-test", task: "multiple-choice" as const, file: writeMultipleChoice(path.join(root, "mc-test.jsonl"), 12, 4), sha256: null };
    const validation = {
      id: "mc-validation",
      task: "multiple-choice" as const,
      file: writeMultipleChoice(path.join(root, "mc-validation.jsonl"), 10, 5),
      sha256: null,
    };
    const logs: string[] = [];
    const r = await run("quant.gptq", { bits: 4, group_size: 32, calib_samples: 8 }, "cpu", { dataset: test, calibration: validation }, (m, level) =>
      logs.push(`${level ?? "info"}: ${m}`),
    );
    const notes = r.notes.join("\n");
    // 10 items of about 27 bytes each, plus end-of-text marks: 2 windows of the model's 128 positions
    expect(notes).toMatch(/calibration: dataset mc-validation \(validation split of mc-test\): 2 sequences x 128 tokens from 10 examples/);
    expect(notes).toMatch(/2 sequences x 128 tokens/);
    expect(logs.join("\n")).toMatch(/warn: calibration asked for 8 x 128 = 1024 tokens; the text has 2\d\d, so it uses 2 x 128/);
    expect(Number.isFinite(r.metrics.accuracy)).toBe(true);
    await expectLoadableModel(r);
  });

  it("without a validation split, a calibrated method fails naming the missing split instead of calibrating on scored examples", async () => {
    const test = { id: "mc-small-test", task: "multiple-choice" as const, file: writeMultipleChoice(path.join(root, "mc-small.jsonl"), 12, 6), sha256: null };
    await expect(
      run("quant.gptq", { bits: 4, group_size: 32, calib_samples: 4, sequential: false }, "cpu", { dataset: test, calibration: null }),
    ).rejects.toThrow(/calibration needs a validation split of dataset mc-small-test.*"mc-small-validation"/);
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

  it("quant.smoothquant with smoothing off is plain W8A8 with the same quantizers, and says so", async () => {
    const r = await run("quant.smoothquant", { smoothing: false, act_quant: "per-tensor" });
    const notes = r.notes.join("\n");
    expect(notes).toMatch(/no smoothing/);
    expect(notes).toMatch(/per tensor/);
    expect(notes).not.toMatch(/calibration:/);
    expect(Number.isFinite(r.metrics.perplexity)).toBe(true);
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
