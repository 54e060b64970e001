import fs from "node:fs";
import path from "node:path";
import * as ort from "onnxruntime-node";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { executeJob, type EngineOptions } from "../../workers/execute";
import type { JobReporter, JobResult, JobSpec } from "../../workers/types";
import { Rng } from "../../workers/data/rng";
import { decoderParamCount } from "../../workers/onnx/decoder-config";
import { getInitializer, readModel } from "../../workers/onnx/model-io";
import { inputGroups, parameterCount } from "../../workers/methods/pruning/driver";
import { quantizableLinears } from "../../workers/methods/quantization/emit";
import { pathModelRef, perplexityJob } from "../engine/fixtures";
import { TINY, tmpDir, writeTinyDecoder } from "../quant/decoder-fixture";

let root: string;
let modelDir: string;
let datasetFile: string;
let validationFile: string;
const reporter: JobReporter = { stage() {}, progress() {}, log() {} };
const engine: Partial<EngineOptions> = {
  quality: { maxExamples: 12, maxTokensPerText: 64 },
  bench: { promptLength: 16, decodeTokens: 4, warmup: 1, repeats: 2 },
};
const HEAD = "lm_head.weight";
const EMBED = "embed_tokens.weight";

beforeAll(() => {
  root = tmpDir("frontier-prune-exec-");
  modelDir = writeTinyDecoder(path.join(root, "model")).dir;
  const rng = new Rng(3);
  const words = ["alpha", "beta", "gamma", "delta", "prune", "model", "mask", "row", "block", "zero"];
  const lines = Array.from({ length: 60 }, () => JSON.stringify({ text: Array.from({ length: 14 }, () => rng.pick(words)).join(" ") }));
  datasetFile = path.join(root, "text.jsonl");
  fs.writeFileSync(datasetFile, `${lines.slice(0, 40).join("\n")}\n`);
  validationFile = path.join(root, "text-validation.jsonl");
  fs.writeFileSync(validationFile, `${lines.slice(40).join("\n")}\n`);
});
afterAll(() => fs.rmSync(root, { recursive: true, force: true }));

let runId = 0;
let baseline: Record<string, number> | null = null;
/** Saved models of the unstructured runs, by method. */
const saved = new Map<string, string>();
async function run(methodId: string, params: Record<string, unknown>): Promise<JobResult> {
  const workDir = path.join(root, `run-${++runId}`);
  fs.mkdirSync(workDir);
  const spec: JobSpec = perplexityJob(pathModelRef("tiny", modelDir), { id: "text", file: datasetFile }, workDir, {
    runId,
    methodId,
    params,
    calibration: { id: "text-validation", task: "perplexity", file: validationFile, sha256: null },
    // the dense model's quality is measured once, by the first run
    baseline: baseline ? { runId: 0, metrics: baseline } : null,
  });

  const r = await executeJob(spec, reporter, engine);
  baseline ??= r.baselineMetrics ?? null;
  return r;
}

/** Zeros per linear of the saved model, read independently of the executor's own count. */
function savedZeros(file: string) {
  const model = readModel(file);
  const base = readModel(path.join(modelDir, "model.onnx"));
  const layers = quantizableLinears(model).targets.map((t) => {
    const w = getInitializer(model, t.weightName).data as Float32Array;
    return { name: t.weightName, k: t.k, n: t.n, transposed: t.transposed, w, zeros: w.reduce((a, v) => a + (v === 0 ? 1 : 0), 0) };
  });
  const same = (name: string) => {
    const a = getInitializer(model, name).data as Float32Array;
    const b = getInitializer(base, name).data as Float32Array;
    return a.length === b.length && a.every((v, i) => v === b[i]);
  };
  return { layers, same };
}

async function expectRuns(r: JobResult) {
  const art = r.artifacts.find((a) => a.kind === "model");
  expect(art).toBeDefined();
  expect(art!.sha256).toMatch(/^[0-9a-f]{64}$/);
  const session = await ort.InferenceSession.create(art!.path);
  expect(session.outputNames).toContain("logits");
  await session.release();
  expect(Number.isFinite(r.metrics.perplexity)).toBe(true);
  expect(r.metrics.perplexity).toBeGreaterThan(1);
  return art!.path;
}

describe("unstructured pruning end to end through executeJob", () => {
  it("counts the decoder's parameters as its config does (rotary tables excluded)", () => {
    const c = { ...TINY, rope_theta: 10000, rms_eps: 1e-5, tie_embeddings: false };
    const count = parameterCount(readModel(path.join(modelDir, "model.onnx")));
    expect(count.total).toBe(decoderParamCount(c));
    expect(count.nonzero).toBe(count.total);
  });

  for (const [methodId, params] of [
    ["prune.magnitude", { sparsity: 0.5 }],
    ["prune.wanda", { sparsity: 0.6, calib_samples: 4 }],
    ["prune.sparsegpt", { sparsity: 0.5, calib_samples: 4 }],
  ] as const) {
    it(`${methodId} unstructured ${params.sparsity}: the saved model has the target sparsity, a dense head and embedding, and still runs`, async () => {
      const r = await run(methodId, params);
      const file = await expectRuns(r);
      saved.set(methodId, file);
      const { layers, same } = savedZeros(file);
      const pruned = layers.filter((l) => l.name !== HEAD);
      expect(pruned.length).toBe(TINY.num_layers * 7);
      const s = params.sparsity;
      for (const l of pruned) {
        if (methodId === "prune.magnitude") expect(l.zeros).toBe(Math.floor(l.k * l.n * s));
        else if (methodId === "prune.wanda") {
          // per output row (the stored weight is [K, N] here: rows of W are its columns)
          for (let o = 0; o < l.n; o++) {
            let z = 0;
            for (let i = 0; i < l.k; i++) if ((l.transposed ? l.w[o * l.k + i] : l.w[i * l.n + o]) === 0) z++;
            expect(z).toBe(Math.floor(l.k * s));
          }
        } else expect(l.zeros).toBeGreaterThanOrEqual(Math.floor(l.k * l.n * s));
      }
      const zeros = pruned.reduce((a, l) => a + l.zeros, 0);
      const weights = pruned.reduce((a, l) => a + l.k * l.n, 0);
      expect(r.metrics.sparsity).toBeCloseTo(zeros / weights, 12);
      expect(r.metrics.sparsity).toBeGreaterThanOrEqual(s - 0.01);
      expect(same(HEAD)).toBe(true);
      expect(same(EMBED)).toBe(true);
      const total = decoderParamCount({ ...TINY, rope_theta: 10000, rms_eps: 1e-5, tie_embeddings: false });
      expect(r.metrics.params_remaining).toBe(total - zeros);
      expect(r.metrics.sparsity_overall).toBeCloseTo(zeros / total, 12);
      expect(r.notes.join("\n")).toMatch(/left dense: the embedding, the norms and the output head \(lm_head\.weight\)/);
      expect(r.notes.join("\n")).toMatch(/no sparse or 2:4 kernel for MatMul/);
    });
  }

  for (const [methodId, pattern] of [
    ["prune.wanda", "2:4"],
    ["prune.sparsegpt", "4:8"],
  ] as const) {
    it(`${methodId} ${pattern}: N zeros in every M consecutive inputs of each output row of the saved model`, async () => {
      const r = await run(methodId, { pattern, calib_samples: 4 });
      const file = await expectRuns(r);
      const [n, m] = pattern.split(":").map(Number);
      for (const l of savedZeros(file).layers.filter((x) => x.name !== HEAD)) {
        for (let o = 0; o < l.n; o++) {
          for (let g = 0; g < l.k; g += m) {
            let z = 0;
            for (let i = g; i < g + m; i++) if ((l.transposed ? l.w[o * l.k + i] : l.w[i * l.n + o]) === 0) z++;
            expect(z).toBeGreaterThanOrEqual(n);
          }
        }
      }
      expect(r.metrics.sparsity).toBeGreaterThanOrEqual(n / m);
      expect(r.metrics.sparsity).toBeLessThan(n / m + 0.01);
    });
  }

  it("prune.sparsegpt true_sequential: o_proj and down_proj calibrate after their layer's earlier groups are pruned", async () => {
    const layer0 = quantizableLinears(readModel(path.join(modelDir, "model.onnx"))).targets.filter((t) => t.layer?.endsWith(":0"));
    expect(inputGroups(layer0).map((g) => g.map((t) => t.weightName.split(".").slice(-2, -1)[0]))).toEqual([
      ["q_proj", "k_proj", "v_proj"],
      ["o_proj"],
      ["gate_proj", "up_proj"],
      ["down_proj"],
    ]);
    const r = await run("prune.sparsegpt", { sparsity: 0.5, calib_samples: 4, true_sequential: true });
    const file = await expectRuns(r);
    expect(r.notes.join("\n")).toMatch(/true-sequential: 8 calibration passes over 2 layers/);
    const a = readModel(file);
    const b = readModel(saved.get("prune.sparsegpt")!);
    const equal = (name: string) => {
      const x = getInitializer(a, name).data as Float32Array;
      const y = getInitializer(b, name).data as Float32Array;
      return x.every((v, i) => v === y[i]);
    };
    // the first group of the first layer sees the same inputs either way; later groups do not
    expect(equal("layers.0.self_attn.q_proj.weight")).toBe(true);
    expect(equal("layers.0.self_attn.v_proj.weight")).toBe(true);
    expect(equal("layers.0.self_attn.o_proj.weight")).toBe(false);
    expect(equal("layers.0.mlp.down_proj.weight")).toBe(false);
  });

  it("refuses bad params naming them", async () => {
    await expect(run("prune.magnitude", { sparsity: 0.99 })).rejects.toThrow(/sparsity/);
    await expect(run("prune.wanda", { pattern: "3:4" })).rejects.toThrow(/pattern/);
  });
});
