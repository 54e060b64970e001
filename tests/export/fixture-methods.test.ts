/**
 * Every quantization method on a user's own export (tests/fixtures/export: torch.onnx.export at
 * opset 14, optimum's layout, with and without constant folding): each bit width and format runs,
 * sizes and perplexities come in the expected order, GPTQ calibrates once per decoder layer, and
 * no float copy of a weight stays beside its quantized form.
 */
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { executeJob, type EngineOptions } from "../../workers/execute";
import { DataType, readModel } from "../../workers/onnx/model-io";
import type { JobReporter, JobResult } from "../../workers/types";
import { pathModelRef, perplexityJob } from "../engine/fixtures";

const FIXTURES = path.resolve(__dirname, "../fixtures/export");
const ZOO_DATA = path.resolve(__dirname, "../../zoo/datasets");
const reporter: JobReporter = { stage() {}, progress() {}, log() {} };
const engine: Partial<EngineOptions> = {
  quality: { maxExamples: 40, maxTokensPerText: 128 },
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
  root = fs.mkdtempSync(path.join(os.tmpdir(), "frontier-export-methods-"));
  testFile = path.join(root, "grammar-test-40.jsonl");
  fs.writeFileSync(testFile, `${firstLines(path.join(ZOO_DATA, "grammar-test.jsonl"), 40).join("\n")}\n`);
  validationFile = path.join(root, "grammar-validation-60.jsonl");
  fs.writeFileSync(validationFile, `${firstLines(path.join(ZOO_DATA, "grammar-validation.jsonl"), 60).join("\n")}\n`);
});
afterAll(() => fs.rmSync(root, { recursive: true, force: true }));

function run(fixture: string, methodId: string, params: Record<string, unknown>, baseline: Record<string, number> | null): Promise<JobResult> {
  const workDir = path.join(root, `run-${++runId}`);
  fs.mkdirSync(workDir);
  const spec = perplexityJob(pathModelRef(fixture, path.join(FIXTURES, fixture)), { id: "grammar-test-40", file: testFile }, workDir, {
    runId,
    methodId,
    params,
    calibration: { id: "grammar-validation-60", task: "perplexity", file: validationFile, sha256: null },
    baseline: baseline ? { runId: 0, metrics: baseline } : null,
  });
  return executeJob(spec, reporter, engine);
}

/** Float32 matrices in the quantized model: only the embedding and the (float) head may remain. */
function floatMatrices(r: JobResult): number {
  const art = r.artifacts.find((a) => a.kind === "model");
  if (!art) throw new Error("no model artifact");
  const model = readModel(art.path);
  return (model.graph?.initializer ?? []).filter(
    (t) => t.dataType === DataType.FLOAT && t.dims?.length === 2 && Number(t.dims[0]) * Number(t.dims[1]) >= 64 * 64,
  ).length;
}

describe.each(["llama-opset14", "llama-opset14-nofold"])("quantization methods on the exported %s", (fixture) => {
  let base: Record<string, number> | null = null;

  it("RTN at 2, 3, 4 and 8 bits in both formats: every run succeeds, sizes and perplexities in order, no float copies", async () => {
    const ppl: Record<string, number> = {};
    const bytes: Record<string, number> = {};
    for (const bits of [8, 4, 3, 2]) {
      for (const format of bits === 4 || bits === 8 ? ["matmulnbits", "qdq"] : ["qdq"]) {
        const r = await run(fixture, "quant.rtn", { bits, group_size: 32, format }, base);
        base ??= r.baselineMetrics ?? null;
        expect(Number.isFinite(r.metrics.perplexity), `${bits}-bit ${format}`).toBe(true);
        // embedding + float head: every decoder linear lost its float weight
        expect(floatMatrices(r), `${bits}-bit ${format}`).toBe(2);
        ppl[`${bits}/${format}`] = r.metrics.perplexity;
        bytes[`${bits}/${format}`] = r.metrics.model_bytes;
      }
    }
    if (!base) throw new Error("no baseline measured");
    expect(bytes["8/matmulnbits"]).toBeLessThan(base.model_bytes);
    expect(bytes["4/matmulnbits"]).toBeLessThan(bytes["8/matmulnbits"]);
    expect(bytes["4/qdq"]).toBeLessThan(bytes["8/qdq"]);
    // 2- and 3-bit codes live in 4-bit containers: the same bytes as 4-bit qdq
    expect(bytes["3/qdq"]).toBe(bytes["4/qdq"]);
    expect(bytes["2/qdq"]).toBe(bytes["4/qdq"]);
    // quality: 8 bits is nearly lossless; fewer bits never better than more (small tolerance)
    expect(Math.abs(ppl["8/matmulnbits"] - base.perplexity) / base.perplexity).toBeLessThan(0.01);
    expect(ppl["4/qdq"]).toBeLessThan(ppl["3/qdq"] * 1.002);
    expect(ppl["3/qdq"]).toBeLessThan(ppl["2/qdq"]);
    // the two 4-bit formats hold the same codes and both keep activations in float
    expect(Math.abs(ppl["4/matmulnbits"] - ppl["4/qdq"]) / ppl["4/qdq"]).toBeLessThan(1e-3);
  }, 120_000);

  it("GPTQ calibrates once per decoder layer; AWQ, HQQ and SmoothQuant run", async () => {
    // The fixture is trained for 90 s (perplexity 39), so 3-bit quantization moves its perplexity by
    // under 1% and which method wins is noise here; method ordering is tested on the zoo models.
    const gptq = await run(fixture, "quant.gptq", { bits: 3, group_size: 32, calib_samples: 16 }, base);
    expect(gptq.notes.join("\n")).toMatch(/2 layer-sequential calibration passes/);
    expect(floatMatrices(gptq)).toBe(2);
    expect(Number.isFinite(gptq.metrics.perplexity)).toBe(true);
    const sq = await run(fixture, "quant.smoothquant", { calib_samples: 16 }, base);
    expect(Number.isFinite(sq.metrics.perplexity)).toBe(true);
  }, 120_000);

  it("GPTQ, AWQ and HQQ at 2, 3, 4 and 8 bits in both formats: every run succeeds, no float copies, 8 bits nearly lossless", async () => {
    for (const methodId of ["quant.gptq", "quant.awq", "quant.hqq"]) {
      const ppl: Record<number, number> = {};
      for (const bits of [8, 4, 3, 2]) {
        for (const format of bits === 4 || bits === 8 ? ["matmulnbits", "qdq"] : ["qdq"]) {
          const params = { bits, group_size: 32, format, ...(methodId === "quant.hqq" ? {} : { calib_samples: 8 }) };
          const r = await run(fixture, methodId, params, base);
          const what = `${methodId} ${bits}-bit ${format}`;
          expect(Number.isFinite(r.metrics.perplexity), what).toBe(true);
          expect(floatMatrices(r), what).toBe(2);
          expect(r.metrics.model_bytes, what).toBeLessThan(r.baselineMetrics?.model_bytes ?? base?.model_bytes ?? Number.POSITIVE_INFINITY);
          if (format === "qdq") ppl[bits] = r.metrics.perplexity;
        }
      }
      const fp = base?.perplexity ?? Number.NaN;
      expect(Math.abs(ppl[8] - fp) / fp, methodId).toBeLessThan(0.01);
      expect(ppl[2], methodId).toBeGreaterThan(ppl[8]);
    }
  }, 240_000);
});
