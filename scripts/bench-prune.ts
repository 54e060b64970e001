/**
 * Pruning benchmark: every figure from the worker's real job pipeline (executeJob) on the cpu
 * runtime. Quality on a trained decoder (default zoo/zoo-base on zoo/datasets/grammar-test.jsonl,
 * the whole test split scored), calibration only from the validation split (default
 * zoo/datasets/grammar-validation.jsonl, 64 sequences of 128 tokens drawn by the seed).
 * Magnitude, Wanda and SparseGPT at 50% unstructured, 2:4 and 4:8, and SparseGPT true-sequential at
 * 50% unstructured. Calibrated methods run once per seed and print mean ± sd over the seeds;
 * magnitude is deterministic and runs once.
 *
 *   npm run bench:prune -- [--quick] [--only TEXT] [--seeds 1,2,3] [--samples N] [--json FILE]
 *                          [--model DIR] [--dataset FILE] [--calibration FILE] [--examples N]
 *                          [--skip-structural]
 *
 * After the unstructured table it runs scripts/bench-prune-structured.ts (structured pruning and
 * layer drop: quality on the same model and split, prefill/decode speedup on shape-125m).
 *
 * --quick: one seed, 2:4 left out, 16 calibration sequences, 60 scored texts (a smoke check, not
 * figures to cite). Each table row comes from a `PruneRowSpec`: other pruning rows (structured,
 * layer drop) are added by appending specs to `pruneRowSpecs()` or by passing their own to
 * `runPruneRows`. The "prune s" column is the executor's own time (calibration included), from
 * the job's "apply" stage to its quality evaluation.
 */
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { pathToFileURL } from "node:url";
import { executeJob, type EngineOptions } from "../workers/execute";
import { jobSpecIn } from "../workers/job/spec";
import type { DatasetRef, JobReporter, JobResult, ModelRef } from "../workers/types";
import { DEFAULT_QUALITY } from "../workers/eval/quality";
import { readDataset } from "../workers/eval/dataset";
import type { BenchmarkOptions, QualityOptions } from "../workers/eval/types";

// ------------------------------------------------------------------------------ rows
export interface PruneRowSpec {
  /** Table label, e.g. "Wanda 2:4". */
  label: string;
  method: string;
  /** Sparsity pattern or structure, e.g. "50% unstructured", "2:4", "30% neurons". */
  pattern: string;
  methodId: string;
  params: Record<string, unknown>;
  /** Draws calibration data: run once per seed. */
  calibrated: boolean;
}

export interface PruneRow extends PruneRowSpec {
  seeds: number[];
  perplexity: number[];
  sparsity: number;
  sparsityOverall: number;
  paramsRemaining: number;
  /** Executor seconds (calibration and pruning), per seed. */
  pruneSeconds: number[];
  notes: string[];
}

const PATTERN_LABEL: Record<string, string> = { unstructured: "50% unstructured", "2:4": "2:4", "4:8": "4:8" };

export const magnitudeRow = (pattern: "unstructured" | "2:4" | "4:8", sparsity = 0.5): PruneRowSpec => ({
  label: `Magnitude ${pattern}`,
  method: "Magnitude",
  pattern: pattern === "unstructured" ? `${sparsity * 100}% unstructured` : PATTERN_LABEL[pattern],
  methodId: "prune.magnitude",
  params: { sparsity, pattern },
  calibrated: false,
});

export const wandaRow = (pattern: "unstructured" | "2:4" | "4:8", samples: number, sparsity = 0.5): PruneRowSpec => ({
  label: `Wanda ${pattern}`,
  method: "Wanda",
  pattern: pattern === "unstructured" ? `${sparsity * 100}% unstructured` : PATTERN_LABEL[pattern],
  methodId: "prune.wanda",
  params: { sparsity, pattern, calib_samples: samples },
  calibrated: true,
});

export const sparsegptRow = (pattern: "unstructured" | "2:4" | "4:8", samples: number, sparsity = 0.5, trueSequential = false): PruneRowSpec => ({
  label: `SparseGPT${trueSequential ? " true-sequential" : ""} ${pattern}`,
  method: trueSequential ? "SparseGPT (true-sequential)" : "SparseGPT",
  pattern: pattern === "unstructured" ? `${sparsity * 100}% unstructured` : PATTERN_LABEL[pattern],
  methodId: "prune.sparsegpt",
  params: { sparsity, pattern, calib_samples: samples, ...(trueSequential ? { true_sequential: true } : {}) },
  calibrated: true,
});

/** The unstructured-pruning rows: each method at 50% unstructured, 2:4 and 4:8, and true-sequential SparseGPT unstructured. */
export function pruneRowSpecs(samples: number, patterns: readonly ("unstructured" | "2:4" | "4:8")[] = ["unstructured", "2:4", "4:8"]): PruneRowSpec[] {
  return [
    ...patterns.flatMap((p) => [magnitudeRow(p), wandaRow(p, samples), sparsegptRow(p, samples)]),
    ...(patterns.includes("unstructured") ? [sparsegptRow("unstructured", samples, 0.5, true)] : []),
  ];
}

// ------------------------------------------------------------------------------ jobs
export interface PruneBenchEnv {
  model: ModelRef;
  dataset: DatasetRef;
  calibration: DatasetRef;
  engine: Partial<EngineOptions>;
  dataDir: string;
  /** Directory for the runs' work directories. */
  cacheDir: string;
  seeds: number[];
  progress?: (line: string) => void;
}

export function pathModelRef(id: string, dir: string): ModelRef {
  const files: Record<string, string> = { dir, model: "model.onnx", config: "config.json" };
  if (fs.existsSync(path.join(dir, "tokenizer.json"))) files.tokenizer = "tokenizer.json";
  return { id, kind: "decoder-lm", source: "path", files, sha256: null, card: null };
}

export const perplexityRef = (file: string): DatasetRef => ({ id: path.basename(file, ".jsonl"), task: "perplexity", file, sha256: null });

let runCounter = 0;

/** Runs one job; `applySeconds` is the time from the job's "apply" stage (the executor) to its next pipeline stage. */
export async function runPruneJob(
  env: PruneBenchEnv,
  methodId: string,
  params: Record<string, unknown>,
  seed: number,
  baseline: Record<string, number> | null,
): Promise<{ result: JobResult; applySeconds: number }> {
  const runId = ++runCounter;
  const workDir = path.join(env.cacheDir, "runs", `${process.pid}-${runId}`);
  let applyAt = Number.NaN;
  let appliedAt = Number.NaN;
  const reporter: JobReporter = {
    stage(name) {
      if (name === "apply") applyAt = performance.now();
      else if (Number.isFinite(applyAt) && !Number.isFinite(appliedAt) && (name === "quality" || name === "benchmark" || name === "report"))
        appliedAt = performance.now();
    },
    progress() {},
    log() {},
  };
  const spec = jobSpecIn(
    {
      runId,
      methodId,
      params,
      model: env.model,
      dataset: env.dataset,
      calibration: env.calibration,
      runtime: "cpu",
      seed,
      baseline: baseline ? { runId: 0, metrics: baseline } : null,
    },
    workDir,
    env.dataDir,
  );
  const result = await executeJob(spec, reporter, env.engine);
  fs.rmSync(workDir, { recursive: true, force: true });
  return { result, applySeconds: (appliedAt - applyAt) / 1000 };
}

/** Runs every spec (calibrated ones once per seed) and returns the rows and the dense baseline's metrics. */
export async function runPruneRows(env: PruneBenchEnv, specs: readonly PruneRowSpec[]): Promise<{ rows: PruneRow[]; baseline: Record<string, number> | null }> {
  let baseline: Record<string, number> | null = null;
  const rows: PruneRow[] = [];
  for (const spec of specs) {
    const row: PruneRow = {
      ...spec,
      seeds: [],
      perplexity: [],
      sparsity: Number.NaN,
      sparsityOverall: Number.NaN,
      paramsRemaining: Number.NaN,
      pruneSeconds: [],
      notes: [],
    };
    for (const seed of spec.calibrated ? env.seeds : env.seeds.slice(0, 1)) {
      const { result, applySeconds } = await runPruneJob(env, spec.methodId, spec.params, seed, baseline);
      baseline ??= result.baselineMetrics ?? null;
      row.seeds.push(seed);
      row.perplexity.push(result.metrics.perplexity);
      row.pruneSeconds.push(applySeconds);
      row.sparsity = result.metrics.sparsity;
      row.sparsityOverall = result.metrics.sparsity_overall;
      row.paramsRemaining = result.metrics.params_remaining;
      row.notes = result.notes;
      env.progress?.(`${spec.label} seed ${seed}: perplexity ${result.metrics.perplexity.toFixed(3)}, ${applySeconds.toFixed(1)} s`);
    }
    rows.push(row);
  }
  return { rows, baseline };
}

// ------------------------------------------------------------------------------ table
export function meanSd(xs: readonly number[]): { mean: number; sd: number | null } {
  const mean = xs.reduce((a, b) => a + b, 0) / xs.length;
  if (xs.length < 2) return { mean, sd: null };
  return { mean, sd: Math.sqrt(xs.reduce((a, x) => a + (x - mean) ** 2, 0) / (xs.length - 1)) };
}

const fmt = (v: number | undefined | null, digits = 3) => (v === undefined || v === null || !Number.isFinite(v) ? "—" : v.toFixed(digits));

export function formatPruneTable(rows: readonly PruneRow[], baseline: Record<string, number> | null): string[] {
  const out = [
    "| method | pattern | perplexity (mean ± sd) | seeds | sparsity (pruned linears) | sparsity (all params) | params remaining | prune s (mean) |",
    "|---|---|---|---|---|---|---|---|",
  ];
  if (baseline) out.push(`| dense (fp32) | — | ${fmt(baseline.perplexity)} | — | 0 | 0 | — | — |`);
  for (const r of rows) {
    const p = meanSd(r.perplexity);
    const t = meanSd(r.pruneSeconds);
    out.push(
      `| ${r.method} | ${r.pattern} | ${fmt(p.mean)}${p.sd === null ? "" : ` ± ${fmt(p.sd)}`} | ${r.seeds.join(",")} | ${fmt(r.sparsity, 4)} | ${fmt(r.sparsityOverall, 4)} | ${Number.isFinite(r.paramsRemaining) ? r.paramsRemaining : "—"} | ${fmt(t.mean, 1)} |`,
    );
  }
  return out;
}

// ------------------------------------------------------------------------------ main
function arg(name: string): string | undefined {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 ? process.argv[i + 1] : undefined;
}
const flag = (name: string) => process.argv.includes(`--${name}`);

async function main() {
  const quick = flag("quick");
  const only = arg("only")?.toLowerCase();
  const seeds = (arg("seeds") ?? (quick ? "1" : "1,2,3")).split(",").map((s) => Number(s.trim()));
  if (seeds.length === 0 || seeds.some((s) => !Number.isInteger(s))) throw new Error(`--seeds: comma-separated integers, got ${arg("seeds")}`);
  const samples = Number(arg("samples") ?? (quick ? 16 : 64));
  if (!Number.isInteger(samples) || samples < 1) throw new Error(`--samples: a positive integer, got ${arg("samples")}`);
  const modelDir = path.resolve(arg("model") ?? path.join("zoo", "zoo-base"));
  const datasetFile = path.resolve(arg("dataset") ?? path.join("zoo", "datasets", "grammar-test.jsonl"));
  const calibrationFile = path.resolve(arg("calibration") ?? path.join("zoo", "datasets", "grammar-validation.jsonl"));
  for (const [what, f] of [
    ["--model", path.join(modelDir, "model.onnx")],
    ["--dataset", datasetFile],
    ["--calibration", calibrationFile],
  ]) {
    if (!fs.existsSync(f)) throw new Error(`${what}: ${f} does not exist (the zoo models and datasets come from npm run zoo:train)`);
  }
  const dataset = perplexityRef(datasetFile);
  const total = readDataset(dataset).examples.length;
  const examples = Number(arg("examples") ?? (quick ? 60 : Math.max(DEFAULT_QUALITY.maxExamples, total)));
  const quality: QualityOptions = { ...DEFAULT_QUALITY, maxExamples: examples };
  // zoo-base is too small for its latency to mean anything: a short benchmark keeps the job's
  // interleaved timing from dominating the sweep.
  const bench: BenchmarkOptions = { promptLength: 32, decodeTokens: 8, warmup: 1, repeats: 2 };
  const env: PruneBenchEnv = {
    model: pathModelRef(path.basename(modelDir), modelDir),
    dataset,
    calibration: perplexityRef(calibrationFile),
    engine: { quality, bench },
    dataDir: path.resolve(process.env.FRONTIER_DATA_DIR ?? "data"),
    cacheDir: path.resolve(".cache", "bench-prune"),
    seeds,
    progress: (s) => console.error(`  ${s}`),
  };
  const patterns = quick ? (["unstructured", "4:8"] as const) : (["unstructured", "2:4", "4:8"] as const);
  const specs = pruneRowSpecs(samples, patterns).filter((s) => !only || s.label.toLowerCase().includes(only));
  const t0 = performance.now();
  const { rows, baseline } = await runPruneRows(env, specs);
  const cpus = os.cpus();
  const lines = [
    `## Pruning benchmark${quick ? " (--quick: smoke check, not figures to cite)" : ""}`,
    "",
    `machine: ${cpus[0]?.model ?? "unknown cpu"} x${cpus.length}; node ${process.version}; ${new Date().toISOString().slice(0, 16).replace("T", " ")} UTC; runtime cpu`,
    `model ${path.relative(process.cwd(), modelDir)}; perplexity on ${path.basename(datasetFile)} (${Math.min(examples, total)} of ${total} texts); calibration ${samples} sequences from ${path.basename(calibrationFile)}; seeds ${seeds.join(",")}`,
    "",
    ...formatPruneTable(rows, baseline),
    "",
    `total ${((performance.now() - t0) / 1000).toFixed(0)} s`,
  ];
  console.log(lines.join("\n"));
  // Structured pruning and layer drop: their quality rows on the same model and split, and the
  // prefill/decode speedup on shape-125m, timed interleaved against the dense model.
  let structural: unknown = null;
  if (!flag("skip-structural")) {
    const { benchStructural } = await import("./bench-prune-structured");
    const t1 = performance.now();
    const r = await benchStructural({
      quick,
      seeds,
      samples,
      only,
      modelDir,
      datasetFile,
      calibrationFile,
      progress: (s) => console.error(`  ${s}`),
    });
    console.log(["", ...r.lines, "", `total ${((performance.now() - t1) / 1000).toFixed(0)} s`].join("\n"));
    structural = { quality: r.quality, shape: r.shape };
  }
  const json = arg("json");
  if (json) fs.writeFileSync(json, `${JSON.stringify({ baseline, rows, structural }, null, 2)}\n`);
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? "").href) {
  main().catch((e) => {
    console.error(e instanceof Error ? e.message : e);
    process.exit(1);
  });
}
