import { afterAll, beforeAll, describe, expect, it } from "vitest";
import fs from "node:fs";
import path from "node:path";
import { CalibrationTooShort, calibrationFrom, deltas, executeJob, type EngineOptions } from "@/workers/execute";
import { modelStats } from "@/workers/eval/model-stats";
import { initializerBytes, modelBytes, readModel } from "@/workers/onnx/model-io";
import { loadTokenizer } from "@/workers/tokenizer/tokenizer";
import type { JobReporter, JobSpec, ModelRef } from "@/workers/types";
import { perplexityJob, tempDir, writeBigramModel, writeJsonl, writeRandomModel } from "./fixtures";

let dir: string;
let bigramDir: string;
let shapeDir: string;
let datasetFile: string;

const fast: Partial<EngineOptions> = {
  quality: { maxExamples: 8, maxTokensPerText: 64 },
  bench: { promptLength: 16, decodeTokens: 4, warmup: 1, repeats: 3 },
};

function recorder() {
  const events: string[] = [];
  const reporter: JobReporter = {
    stage: (name, p) => events.push(`stage:${name}:${p ?? ""}`),
    progress: (f) => events.push(`progress:${f.toFixed(2)}`),
    log: (m, level = "info") => events.push(`${level}:${m}`),
  };
  return { events, reporter };
}

function spec(model: ModelRef, overrides: Partial<JobSpec> = {}): JobSpec {
  return perplexityJob(model, { id: "tiny", file: datasetFile }, path.join(dir, "work"), { seed: 5, ...overrides });
}

const modelRef = (d: string, extra: Partial<ModelRef> = {}): ModelRef => ({
  id: path.basename(d),
  kind: "decoder-lm",
  source: "path",
  files: { dir: d, model: "model.onnx", tokenizer: "tokenizer.json" },
  sha256: null,
  card: null,
  ...extra,
});

beforeAll(() => {
  dir = tempDir("execute");
  bigramDir = path.join(dir, "bigram");
  shapeDir = path.join(dir, "shape");
  writeBigramModel(bigramDir);
  writeRandomModel(shapeDir);
  datasetFile = writeJsonl(
    path.join(dir, "ppl.jsonl"),
    ["ABCDE fine", "BCD", "ABAB", "the end", "EDCBA", "AAAA", "CDE", "DEA BC", "ABC", "BCDEA"].map((text) => ({ text })),
  );
});
afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

describe("executeJob", () => {
  it("runs the baseline on a tiny model: quality, speed, memory and a hardware fingerprint", async () => {
    const { events, reporter } = recorder();
    const r = await executeJob(spec(modelRef(bigramDir)), reporter, fast);
    const m = r.metrics;
    expect(m.perplexity).toBeGreaterThan(1);
    expect(m.perplexity).toBeLessThan(264);
    expect(m.bits_per_byte).toBeGreaterThan(0);
    expect(m.eval_examples).toBe(8);
    for (const key of ["prefill_ms", "decode_ms_per_token", "latency_ms_p50", "tokens_per_s"]) {
      expect(m[key], key).toBeGreaterThan(0);
    }
    // 3 timed requests: too few for a p95 (20) or a prefill interval (6); the decode bootstrap runs.
    expect(m.latency_ms_p95).toBeUndefined();
    expect(m.decode_ms_per_token_lo).toBeLessThanOrEqual(m.decode_ms_per_token);
    expect(m.eval_max_examples).toBe(8);
    expect(m.bench_prompt_length).toBe(16);
    expect(m.tokens_per_s).toBeCloseTo(1000 / m.decode_ms_per_token, 6);
    expect(m.prompt_tokens).toBe(16);
    const onDisk = fs.statSync(path.join(bigramDir, "model.onnx")).size;
    expect(m.model_bytes).toBe(onDisk);
    expect(m.weights_bytes).toBe(initializerBytes(readModel(path.join(bigramDir, "model.onnx"))));
    // 2 (k, v) x 2 layers x 2 kv heads x 66 head dim x (16 + 4) tokens x 4 bytes
    expect(m.kv_cache_bytes).toBe(2 * 2 * 2 * 66 * 20 * 4);
    expect(m.memory_bytes).toBe(m.weights_bytes + m.kv_cache_bytes);
    expect(m.peak_rss_bytes).toBeGreaterThan(m.weights_bytes);
    expect(m.speedup).toBeUndefined();
    expect(r.baselineMetrics).toBeUndefined();
    expect(r.hardware.runtime).toBe("cpu");
    expect(r.hardware.ortVersion).toMatch(/onnxruntime-node@/);
    expect(r.notes.join("\n")).toMatch(/scored 8 of 10 examples after a shuffle with seed 5/);
    expect(events[0]).toBe("stage:resolve:0");
    expect(events.some((e) => e.startsWith("stage:baseline: benchmark"))).toBe(true);
    expect(events.at(-1)).toMatch(/^stage:report/);
  });

  it("gives a shape-only model speed and memory but no quality metric, and says so", async () => {
    const { reporter } = recorder();
    const r = await executeJob(spec(modelRef(shapeDir, { source: "shape", card: { shapeOnly: true } })), reporter, fast);
    for (const key of ["perplexity", "bits_per_byte", "accuracy", "exact_match", "quality_delta"]) expect(r.metrics[key], key).toBeUndefined();
    expect(r.metrics.decode_ms_per_token).toBeGreaterThan(0);
    expect(r.metrics.model_bytes).toBeGreaterThan(0);
    expect(r.notes.join("\n")).toMatch(/shape-only model \(random weights\).*no quality metric/);
  });

  it("refuses unknown methods, unimplemented methods and bad params before any compute", async () => {
    const { reporter } = recorder();
    const ref = modelRef(bigramDir);
    await expect(executeJob(spec(ref, { methodId: "nope" }), reporter, fast)).rejects.toThrow(/unknown method "nope"/);
    await expect(executeJob(spec(ref, { params: { x: 1 } }), reporter, fast)).rejects.toThrow(/invalid params for baseline/);
    await expect(
      executeJob(spec(ref, { dataset: { id: "x", task: "perplexity", file: path.join(dir, "none.jsonl"), sha256: null } }), reporter, fast),
    ).rejects.toThrow(/dataset file not found/);
    await expect(executeJob(spec({ ...ref, files: { dir: bigramDir, model: "nothing.onnx" } }), reporter, fast)).rejects.toThrow(/does not exist/);
  });
});

describe("deltas against the baseline", () => {
  it("signs quality_delta so higher is better and divides size the right way", () => {
    const base = { perplexity: 10, accuracy: 0.5, decode_ms_per_token: 8, model_bytes: 400 };
    const run = { perplexity: 12, accuracy: 0.55, decode_ms_per_token: 4, model_bytes: 100 };
    // No speedup from a baseline run's figures: it comes from the interleaved benchmark only.
    expect(deltas("perplexity", run, base)).toEqual({ quality_delta: -2, compression_ratio: 4 });
    expect(deltas("multiple-choice", run, base).quality_delta).toBeCloseTo(0.05, 12);
    expect(deltas("exact-match", { decode_ms_per_token: 4 }, base)).toEqual({});
  });
});

describe("model statistics", () => {
  it("match the ONNX reader's byte counts, with external data counted once", () => {
    const ext = path.join(dir, "ext");
    const file = writeRandomModel(ext, { externalDataThreshold: 1024 });
    const s = modelStats(file);
    expect(s.externalFiles.map((f) => path.basename(f))).toEqual(["model.onnx.data"]);
    expect(s.modelBytes).toBe(modelBytes(file));
    expect(s.modelBytes).toBe(fs.statSync(file).size + fs.statSync(path.join(ext, "model.onnx.data")).size);
    expect(s.weightsBytes).toBe(initializerBytes(readModel(file, { loadExternalData: false })));
    expect(s.tensors.find((t) => t.name === "embed_tokens.weight")?.bytes).toBe(300 * 32 * 4);
  });
});

describe("calibration batches", () => {
  it("cut the token stream into n windows of seqLen, in order", () => {
    const tok = loadTokenizer(path.join(bigramDir, "tokenizer.json"));
    const { batches, examplesUsed } = calibrationFrom(["ABCD", "EFGH", "IJKL"], tok, 2, 4);
    expect(batches).toEqual([
      [256, 65, 66, 67],
      [68, 256, 69, 70],
    ]);
    expect(examplesUsed).toBe(2);
  });

  it("use as many full windows as short text holds, one shorter window below seqLen, and refuse below the minimum", () => {
    const tok = loadTokenizer(path.join(bigramDir, "tokenizer.json"));
    // 3 texts of 8 characters: 27 tokens with the end-of-text marks, 2 full windows of 10
    const three = ["ABCDEFGH", "IJKLMNOP", "QRSTUVWX"];
    const few = calibrationFrom(three, tok, 5, 10);
    expect(few.batches.map((b) => b.length)).toEqual([10, 10]);
    expect(few).toMatchObject({ seqLen: 10, tokens: 27, examplesUsed: 3 });
    const one = calibrationFrom(three, tok, 4, 64);
    expect(one.batches).toHaveLength(1);
    expect(one.seqLen).toBe(27);
    expect(one.batches[0].slice(0, 3)).toEqual([256, 65, 66]);
    expect(() => calibrationFrom(["ABCDEFG"], tok, 2, 64)).toThrow(CalibrationTooShort);
    expect(() => calibrationFrom(["ABCDEFG"], tok, 2, 64)).toThrow(/8 tokens in all, fewer than one sequence of 16 \(asked for 2 x 64 = 128\)/);
    // asked for windows under the minimum, the minimum is the window asked for
    expect(calibrationFrom(["ABCDE"], tok, 2, 4).batches).toEqual([[256, 65, 66, 67]]);
    expect(() => calibrationFrom(["AB"], tok, 2, 4)).toThrow(/3 tokens in all, fewer than one sequence of 4 \(asked for 2 x 4 = 8\)/);
  });
});
