/**
 * Quantization benchmark: quality and size of every quantization method on a trained decoder, and
 * decode latency of 4- and 8-bit weights against float32 on the 125M shape model, all through the
 * worker's real job pipeline (executeJob) on the cpu runtime.
 *
 *   npm run bench:quant -- [--model DIR] [--dataset FILE] [--examples N] [--only LABEL] [--shape NAME] [--skip-shape] [--skip-quality] [--json FILE]
 *
 * --model defaults to zoo/zoo-base and --dataset to zoo/datasets/grammar-test.jsonl. Without a zoo
 * model the quality part runs on a tiny decoder with random weights, which the output says: its
 * perplexities only show that the pipeline works, not how the methods compare on a real LM.
 * Checks printed at the end (exit code 1 if one fails): 8-bit RTN perplexity within 1% of the
 * baseline, 3-bit GPTQ better than 3-bit RTN at the same grouping, 4-bit model at most 0.3x the
 * float32 file.
 */
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { executeJob, type EngineOptions } from "../workers/execute";
import type { JobReporter, JobResult, JobSpec, ModelRef } from "../workers/types";
import { ensureShapeModel } from "../workers/onnx/shapes";
import { writeDecoder } from "../workers/onnx/decoder-builder";
import { datasetLines, toJsonl } from "../workers/data";
import { DEFAULT_QUALITY } from "../workers/eval/quality";
import { DEFAULT_BENCH } from "../workers/eval/bench";

function arg(name: string): string | undefined {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 ? process.argv[i + 1] : undefined;
}
const flag = (name: string) => process.argv.includes(`--${name}`);

const CACHE = path.resolve(".cache", "bench-quant");
const quiet: JobReporter = { stage() {}, progress() {}, log() {} };

interface Row {
  label: string;
  methodId: string;
  params: Record<string, unknown>;
  result: JobResult;
  seconds: number;
}

function modelRef(id: string, dir: string, source: ModelRef["source"], shapeOnly = false): ModelRef {
  const files: Record<string, string> = { dir, model: "model.onnx", config: "config.json" };
  if (fs.existsSync(path.join(dir, "tokenizer.json"))) files.tokenizer = "tokenizer.json";
  return { id, kind: "decoder-lm", source, files, sha256: null, card: shapeOnly ? { shapeOnly: true } : null };
}

let runId = 0;
async function run(
  model: ModelRef,
  datasetFile: string,
  methodId: string,
  params: Record<string, unknown>,
  baseline: Record<string, number> | null,
  engine: Partial<EngineOptions>,
): Promise<{ result: JobResult; seconds: number }> {
  const workDir = path.join(CACHE, "runs", `${process.pid}-${++runId}`);
  fs.rmSync(workDir, { recursive: true, force: true });
  fs.mkdirSync(workDir, { recursive: true });
  const spec: JobSpec = {
    runId,
    methodId,
    params,
    model,
    dataset: { id: path.basename(datasetFile), task: "perplexity", file: datasetFile, sha256: null },
    runtime: "cpu",
    seed: 1,
    workDir,
    baseline: baseline ? { runId: 0, metrics: baseline } : null,
  };
  const t0 = performance.now();
  const result = await executeJob(spec, quiet, engine);
  return { result, seconds: (performance.now() - t0) / 1000 };
}

const fmt = (v: number | undefined, digits = 3) => (v === undefined || !Number.isFinite(v) ? "—" : v.toFixed(digits));
const mb = (v: number | undefined) => (v === undefined ? "—" : (v / 1e6).toFixed(2));

function formatNote(r: JobResult): string {
  const n = r.notes.find((x) => x.startsWith("format "));
  return n ? n.split(":")[0].replace("format ", "") : "fp32";
}

async function main() {
  fs.mkdirSync(CACHE, { recursive: true });
  const examples = Number(arg("examples") ?? 100);
  const quality = { ...DEFAULT_QUALITY, maxExamples: examples };
  const lines: string[] = [];
  const checks: { name: string; ok: boolean; detail: string }[] = [];
  const say = (s = "") => {
    lines.push(s);
    console.log(s);
  };

  // ---------------------------------------------------------------- quality
  let modelDir = path.resolve(arg("model") ?? path.join("zoo", "zoo-base"));
  let datasetFile = path.resolve(arg("dataset") ?? path.join("zoo", "datasets", "grammar-test.jsonl"));
  let trained = true;
  if (!fs.existsSync(path.join(modelDir, "model.onnx"))) {
    if (arg("model")) throw new Error(`--model ${modelDir}: no model.onnx there`);
    trained = false;
    modelDir = path.join(CACHE, "tiny-random");
    writeDecoder(modelDir, { vocab_size: 512, num_layers: 4, num_heads: 4, num_kv_heads: 2, hidden_size: 128, intermediate_size: 352, max_position: 512 }, { seed: 3 });
  }
  if (!fs.existsSync(datasetFile)) {
    if (arg("dataset")) throw new Error(`--dataset ${datasetFile} does not exist`);
    datasetFile = path.join(CACHE, "grammar-test.jsonl");
    fs.writeFileSync(datasetFile, toJsonl(datasetLines("grammar", "test", { seed: 1, recallPairs: 8, examplesPerSplit: 400 })));
  }
  const model = modelRef(trained ? path.basename(modelDir) : "tiny-random", modelDir, "path");
  say(`### Quality and size: ${trained ? path.relative(process.cwd(), modelDir) : "tiny random-weight decoder (no zoo model yet: perplexities show the pipeline runs, not method quality)"}`);
  say();
  say(`dataset ${path.relative(process.cwd(), datasetFile)}, ${examples} scored texts (seeded), calibration from the unscored rest; runtime cpu`);
  say();

  const sweep: [string, string, Record<string, unknown>][] = [
    ["RTN 8-bit per-channel", "quant.rtn", { bits: 8, group_size: 0 }],
    ["RTN 4-bit g32", "quant.rtn", { bits: 4, group_size: 32 }],
    ["RTN 4-bit g128", "quant.rtn", { bits: 4, group_size: 128 }],
    ["RTN 3-bit g32", "quant.rtn", { bits: 3, group_size: 32 }],
    ["RTN 3-bit g128", "quant.rtn", { bits: 3, group_size: 128 }],
    ["GPTQ 4-bit g32", "quant.gptq", { bits: 4, group_size: 32, calib_samples: 32 }],
    ["GPTQ 3-bit g32", "quant.gptq", { bits: 3, group_size: 32, calib_samples: 32 }],
    ["GPTQ 3-bit g128", "quant.gptq", { bits: 3, group_size: 128, calib_samples: 32 }],
    ["GPTQ 3-bit g32 one pass", "quant.gptq", { bits: 3, group_size: 32, calib_samples: 32, sequential: false }],
    ["GPTQ 3-bit g32 act-order", "quant.gptq", { bits: 3, group_size: 32, calib_samples: 32, act_order: true }],
    ["AWQ 4-bit g32", "quant.awq", { bits: 4, group_size: 32, calib_samples: 32 }],
    ["AWQ 3-bit g32", "quant.awq", { bits: 3, group_size: 32, calib_samples: 32 }],
    ["HQQ 4-bit g32", "quant.hqq", { bits: 4, group_size: 32 }],
    ["HQQ 3-bit g32", "quant.hqq", { bits: 3, group_size: 32 }],
    ["SmoothQuant W8A8", "quant.smoothquant", { alpha: 0.5, calib_samples: 32 }],
  ];
  const only = arg("only");
  let baseline: Record<string, number> | null = null;
  const rows: Row[] = [];
  for (const [label, methodId, params] of flag("skip-quality") ? [] : sweep) {
    if (only && !label.toLowerCase().includes(only.toLowerCase())) continue;
    const { result, seconds } = await run(model, datasetFile, methodId, params, baseline, { quality, bench: DEFAULT_BENCH });
    baseline ??= result.baselineMetrics ?? null;
    rows.push({ label, methodId, params, result, seconds });
    console.error(`  ${label}: ppl ${fmt(result.metrics.perplexity)} in ${seconds.toFixed(1)} s`);
  }
  if (baseline) {
  say("| run | format | bits_effective | perplexity | quality_delta | model MB | size vs fp32 | decode ms/token | prefill ms | speedup | job s |");
  say("| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |");
  say(`| fp32 baseline | fp32 | 32 | ${fmt(baseline.perplexity)} | 0 | ${mb(baseline.model_bytes)} | 1.00 | ${fmt(baseline.decode_ms_per_token)} | ${fmt(baseline.prefill_ms, 1)} | 1.00 | — |`);
  for (const r of rows) {
    const m = r.result.metrics;
    say(
      `| ${r.label} | ${formatNote(r.result)} | ${fmt(m.bits_effective, 2)} | ${fmt(m.perplexity)} | ${fmt(m.quality_delta)} | ${mb(m.model_bytes)} | ${fmt(m.model_bytes / baseline.model_bytes, 2)} | ${fmt(m.decode_ms_per_token)} | ${fmt(m.prefill_ms, 1)} | ${fmt(m.speedup, 2)} | ${r.seconds.toFixed(1)} |`,
    );
  }
  say();
  const find = (label: string) => rows.find((r) => r.label === label)?.result.metrics;
  const r8 = find("RTN 8-bit per-channel");
  if (r8) {
    const rel = Math.abs(r8.perplexity - baseline.perplexity) / baseline.perplexity;
    checks.push({ name: "8-bit RTN perplexity within 1% of baseline", ok: rel < 0.01, detail: `${(100 * rel).toFixed(3)}%` });
  }
  for (const g of ["g32", "g128"]) {
    const [gq, rt] = [find(`GPTQ 3-bit ${g}`), find(`RTN 3-bit ${g}`)];
    if (gq && rt) {
      checks.push({
        name: `3-bit GPTQ better than 3-bit RTN (${g})`,
        ok: gq.perplexity < rt.perplexity,
        detail: `${fmt(gq.perplexity)} vs ${fmt(rt.perplexity)}`,
      });
    }
  }
  const r4 = find("RTN 4-bit g32");
  if (r4) {
    const ratio = r4.model_bytes / baseline.model_bytes;
    checks.push({ name: "4-bit (g32) model at most 0.3x the fp32 file", ok: ratio <= 0.3, detail: `${ratio.toFixed(3)}x` });
  }
  }

  // ---------------------------------------------------------------- latency on the 125M shape model
  if (!flag("skip-shape")) {
    const shape = arg("shape") ?? "shape-125m";
    const shapeFile = await ensureShapeModel(shape, path.join(CACHE, "shapes"));
    const shapeRef = modelRef(shape, path.dirname(shapeFile), "shape", true);
    say(`### Latency: ${shape} (random weights, no quality), cpu`);
    say();
    say(`prompt ${DEFAULT_BENCH.promptLength} tokens + ${DEFAULT_BENCH.decodeTokens} decode steps, ${DEFAULT_BENCH.warmup} warmup + ${DEFAULT_BENCH.repeats} timed requests, medians`);
    say();
    let shapeBase: Record<string, number> | null = null;
    const shapeRows: Row[] = [];
    for (const [label, params] of [
      ["RTN 4-bit g32", { bits: 4, group_size: 32 }],
      ["RTN 4-bit g128", { bits: 4, group_size: 128 }],
      ["RTN 8-bit per-channel", { bits: 8, group_size: 0 }],
    ] as [string, Record<string, unknown>][]) {
      const { result, seconds } = await run(shapeRef, datasetFile, "quant.rtn", params, shapeBase, { quality, bench: DEFAULT_BENCH });
      shapeBase ??= result.baselineMetrics ?? null;
      shapeRows.push({ label, methodId: "quant.rtn", params, result, seconds });
      console.error(`  ${shape} ${label}: decode ${fmt(result.metrics.decode_ms_per_token)} ms in ${seconds.toFixed(1)} s`);
    }
    if (!shapeBase) throw new Error("no shape baseline was measured");
    say("| run | format | bits_effective | model MB | decode ms/token | tokens/s | prefill ms | p50 request ms | peak RSS MB | speedup |");
    say("| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |");
    const b = shapeBase;
    say(`| fp32 baseline | fp32 | 32 | ${mb(b.model_bytes)} | ${fmt(b.decode_ms_per_token)} | ${fmt(b.tokens_per_s, 1)} | ${fmt(b.prefill_ms, 1)} | ${fmt(b.latency_ms_p50, 1)} | ${mb(b.peak_rss_bytes)} | 1.00 |`);
    for (const r of shapeRows) {
      const m = r.result.metrics;
      say(
        `| ${r.label} | ${formatNote(r.result)} | ${fmt(m.bits_effective, 2)} | ${mb(m.model_bytes)} | ${fmt(m.decode_ms_per_token)} | ${fmt(m.tokens_per_s, 1)} | ${fmt(m.prefill_ms, 1)} | ${fmt(m.latency_ms_p50, 1)} | ${mb(m.peak_rss_bytes)} | ${fmt(m.speedup, 2)} |`,
      );
    }
    say();
  }

  say("Checks:");
  for (const c of checks) say(`- ${c.ok ? "PASS" : "FAIL"} ${c.name}: ${c.detail}`);
  say();
  say(`machine: ${os.cpus()[0]?.model ?? "unknown cpu"} x${os.cpus().length}, ${(os.totalmem() / 2 ** 30).toFixed(0)} GiB, node ${process.version}, ${new Date().toISOString().slice(0, 10)}; webgpu not measured (no GPU adapter on this machine)`);
  const out = arg("json");
  if (out) fs.writeFileSync(out, JSON.stringify({ lines, checks }, null, 2));
  if (checks.some((c) => !c.ok)) process.exitCode = 1;
}

main().catch((e) => {
  console.error(e instanceof Error ? e.stack : e);
  process.exit(1);
});
