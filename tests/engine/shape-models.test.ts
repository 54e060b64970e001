import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { execFile } from "node:child_process";
import fs from "node:fs";
import path from "node:path";
import { promisify } from "node:util";
import * as ort from "onnxruntime-node";
import { executeJob, type EngineOptions } from "@/workers/execute";
import { materializeShapeModel, shapeCacheKey, shapeModelRegistration, withShapeFiles } from "@/workers/onnx/shape-cache";
import { GENERATOR_VERSION, shapeModelConfig } from "@/workers/onnx/shapes";
import type { JobReporter, JobSpec, ModelRef } from "@/workers/types";
import { decoderFeeds } from "../onnx/helpers";
import { perplexityJob, tempDir, writeJsonl } from "./fixtures";

let dir: string;
let datasetFile: string;

const fast: Partial<EngineOptions> = {
  quality: { maxExamples: 8, maxTokensPerText: 64 },
  bench: { promptLength: 16, decodeTokens: 4, warmup: 1, repeats: 3 },
};

/** shape-tiny as the server registers shape models: no files, a card that says how to generate it. */
function registered(): ModelRef {
  const r = shapeModelRegistration("shape-tiny");
  return { id: r.id, kind: r.kind, source: r.source, files: r.files, sha256: null, card: r.card };
}

function recorder() {
  const lines: string[] = [];
  const reporter: JobReporter = { stage: (n) => lines.push(`stage:${n}`), progress: () => {}, log: (m) => lines.push(m) };
  return { lines, reporter };
}

function spec(dataDir: string, overrides: Partial<JobSpec> = {}): JobSpec {
  const workDir = path.join(dir, "work", String(Math.random()).slice(2));
  return perplexityJob(registered(), { id: "text", file: datasetFile }, workDir, { seed: 3, dataDir, ...overrides });
}

beforeAll(() => {
  dir = tempDir("shape-models");
  datasetFile = writeJsonl(
    path.join(dir, "text.jsonl"),
    ["some text to ignore", "more text", "and more"].map((text) => ({ text })),
  );
});
afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

describe("shape models as registered models", () => {
  it("registers with a card that names the shape, the config, the seed and the generator, and no files on the server", () => {
    const r = shapeModelRegistration("125m");
    expect(r).toMatchObject({ id: "shape-125m", kind: "decoder-lm", source: "shape" });
    expect(r.files.dir).toBeUndefined();
    expect(r.card).toMatchObject({ shapeOnly: true, shape: "shape-125m", seed: 0, generator: GENERATOR_VERSION, config: shapeModelConfig("shape-125m") });
    expect(r.params).toBeGreaterThan(120e6);
    expect(r.card.cacheKey).toBe(shapeCacheKey("shape-125m", 0));
    // the key changes with every input of the generator
    expect(shapeCacheKey("shape-125m", 1)).not.toBe(shapeCacheKey("shape-125m", 0));
    expect(shapeCacheKey("shape-125m", 0, GENERATOR_VERSION + 1)).not.toBe(shapeCacheKey("shape-125m", 0));
    expect(shapeCacheKey("shape-1b", 0)).not.toBe(shapeCacheKey("shape-125m", 0));
  });

  it("generates once into a content-addressed cache, also under concurrent jobs, and runs in onnxruntime", async () => {
    const data = path.join(dir, "cache-a");
    const ref = registered();
    // Three job processes at once on a cold cache: every one gets a complete model, no temporary dir stays.
    const script = `import { materializeShapeModel } from "./workers/onnx/shape-cache.ts";
      const m = await materializeShapeModel(${JSON.stringify(ref)}, ${JSON.stringify(data)});
      console.log(JSON.stringify(m));`;
    const all = await Promise.all(
      [0, 1, 2].map(async () => {
        const { stdout } = await promisify(execFile)(process.execPath, ["--import", "tsx", "--input-type=module", "-e", script], { cwd: process.cwd() });
        return JSON.parse(stdout.trim().split("\n").at(-1)!) as { modelPath: string; sha256: string };
      }),
    );
    const keyDir = path.join(data, "shapes", shapeCacheKey("shape-tiny", 0));
    for (const m of all) {
      expect(m.modelPath).toBe(path.join(keyDir, "shape-tiny", "model.onnx"));
      expect(m.sha256).toBe(all[0].sha256);
    }
    expect(fs.readdirSync(keyDir)).toEqual(["shape-tiny"]);
    expect(fs.readdirSync(path.join(keyDir, "shape-tiny")).sort()).toEqual(["card.json", "config.json", "model.onnx", "model.onnx.sha256", "tokenizer.json"]);
    const again = await materializeShapeModel(ref, data);
    expect(again.generated).toBe(false);

    const s = await ort.InferenceSession.create(again.modelPath);
    const out = await s.run(decoderFeeds(ort, shapeModelConfig("tiny"), { ids: [[1, 2, 3]] }));
    await s.release();
    expect(out.logits.dims).toEqual([1, 3, 512]);
    expect((out.logits.data as Float32Array).every(Number.isFinite)).toBe(true);

    // another seed is another model in its own directory; the first one stays
    const seeded = await materializeShapeModel({ ...ref, card: { ...ref.card, seed: 7 } }, data);
    expect(path.dirname(path.dirname(seeded.modelPath))).toBe(path.join(data, "shapes", shapeCacheKey("shape-tiny", 7)));
    expect(seeded.sha256).not.toBe(again.sha256);
    expect(fs.existsSync(again.modelPath)).toBe(true);
  });

  it("checks a recorded sha256, the generator version and the config before use", async () => {
    const data = path.join(dir, "cache-b");
    const ref = registered();
    const good = await materializeShapeModel(ref, data);
    expect((await materializeShapeModel({ ...ref, sha256: good.sha256 }, data)).sha256).toBe(good.sha256);
    await expect(materializeShapeModel({ ...ref, sha256: "0".repeat(64) }, data)).rejects.toThrow(
      /generated model\.onnx has sha256 [0-9a-f]{64}, the registration recorded 0{64}/,
    );
    await expect(materializeShapeModel({ ...ref, card: { ...ref.card, generator: 99 } }, data)).rejects.toThrow(
      new RegExp(`registered for shape generator v99; this worker has v${GENERATOR_VERSION}`),
    );
    await expect(materializeShapeModel({ ...ref, card: { ...ref.card, config: { ...(ref.card!.config as object), num_layers: 3 } } }, data)).rejects.toThrow(
      /registered config differs/,
    );
    await expect(materializeShapeModel({ id: "shape-7b", sha256: null, card: { shapeOnly: true, shape: "shape-7b" } }, data)).rejects.toThrow(
      /unknown shape model/,
    );
  });

  it("leaves a model with files, or a shape model whose files name a directory, as it is", async () => {
    const path_: ModelRef = { id: "m", kind: "decoder-lm", source: "path", files: { dir: "/x", model: "model.onnx" }, sha256: null, card: null };
    expect((await withShapeFiles(path_, dir, () => {})).model).toBe(path_);
    const own: ModelRef = { ...registered(), files: { dir: "/y", model: "model.onnx" } };
    expect((await withShapeFiles(own, dir, () => {})).model).toBe(own);
  });
});

describe("runs on a registered shape model", () => {
  it("the baseline generates the model on first use, says so, and reports speed and memory only", async () => {
    const data = path.join(dir, "worker-data");
    const { lines, reporter } = recorder();
    const r = await executeJob(spec(data), reporter, fast);
    expect(lines.some((l) => /^generating shape-tiny \(first use on this worker/.test(l))).toBe(true);
    expect(lines).toContain("stage:resolve: generating shape model");
    expect(r.notes.join("\n")).toMatch(/shape-tiny generated on this worker in [0-9.]+ s/);
    expect(r.notes.join("\n")).toMatch(/shape-only model \(random weights\): speed and memory only, no quality metric/);
    for (const k of ["perplexity", "bits_per_byte", "accuracy", "exact_match", "quality_delta"]) expect(r.metrics[k], k).toBeUndefined();
    expect(r.metrics.decode_ms_per_token).toBeGreaterThan(0);
    expect(r.metrics.model_bytes).toBeGreaterThan(0);
    // second job: the cache answers, nothing is generated
    const second = recorder();
    const r2 = await executeJob(spec(data), second.reporter, fast);
    expect(second.lines.some((l) => l.startsWith("generating"))).toBe(false);
    expect(r2.notes.join("\n")).not.toMatch(/generated on this worker/);
  });

  it.each([
    ["quant.rtn", { bits: 4, group_size: 32 }],
    ["quant.rtn", { bits: 8, group_size: 128 }],
    ["quant.hqq", { bits: 4, group_size: 64, iters: 2 }],
  ])("%s %j runs on it: smaller model, a speedup, no quality", async (methodId, params) => {
    const { reporter } = recorder();
    const r = await executeJob(spec(path.join(dir, "worker-data"), { methodId, params }), reporter, fast);
    expect(r.metrics.perplexity).toBeUndefined();
    expect(r.metrics.quality_delta).toBeUndefined();
    expect(r.metrics.decode_ms_per_token).toBeGreaterThan(0);
    expect(r.metrics.speedup).toBeGreaterThan(0);
    expect(r.metrics.compression_ratio).toBeGreaterThan(1);
  });

  it.each(["quant.gptq", "quant.awq", "quant.smoothquant"])("%s (calibrated) refuses it with a clear message", async (methodId) => {
    const { reporter } = recorder();
    await expect(
      executeJob(
        spec(path.join(dir, "worker-data"), { methodId, params: {}, baseline: { runId: 1, metrics: { decode_ms_per_token: 1, model_bytes: 1 } } }),
        reporter,
        fast,
      ),
    ).rejects.toThrow(/calibration on a shape-only model \(random weights\) is meaningless; use a trained model/);
  });
});
