/**
 * Quantization benchmark, every figure from the worker's real job pipeline (executeJob) on the cpu
 * runtime, measured the way docs/measurement.md describes:
 *
 * 1. Quality on a trained decoder (default zoo/zoo-base on zoo/datasets/grammar-test.jsonl, the
 *    whole test split scored, so the evaluated texts do not depend on the seed). Calibration comes
 *    only from the validation split (default zoo/datasets/grammar-validation.jsonl). RTN, GPTQ, AWQ
 *    and HQQ at 3 and 4 bits x group 32 and 128, output head in float32 and float activations (the
 *    methods' defaults). Calibrated methods run once per seed (the seed draws the calibration
 *    sequences: 64 of the split's ~100 windows of 128 tokens, so draws differ) and print mean ± sd
 *    over those draws; deterministic ones run once. Also W4A8
 *    (accuracy_level 4) beside W4A16, SmoothQuant W8A8 with and without smoothing (per-token
 *    activations), RTN 8-bit per channel.
 * 2. Paired bootstrap per text of the perplexity difference AWQ - RTN and GPTQ - RTN (seed-1
 *    models): each model's per-text NLL over the same texts (scoreTexts in workers/eval/quality.ts,
 *    the code the job's perplexity comes from), texts resampled 2,000 times (seeded), 95% interval.
 * 3. Latency and memory on shape-125m (random weights, generated into the data dir's shape cache
 *    on first use, as a worker does): RTN 4-bit g32 (W4A16 and W4A8), 4-bit g128, 8-bit per channel,
 *    each timed interleaved with the fp32 model by the job, with 95% intervals, the speedup verdict,
 *    and peak RSS of base and quantized model each from a fresh process.
 *
 *   npm run bench:quant -- [--quick] [--only TEXT] [--seeds 1,2,3] [--json FILE]
 *                          [--model DIR] [--dataset FILE] [--calibration FILE] [--examples N]
 *                          [--shape NAME] [--data-dir DIR] [--skip-quality] [--skip-paired] [--skip-shape]
 *
 * --quick: one seed, two bits x group settings (4-bit g32, 3-bit g128), fewer extra rows, 60 scored
 * texts and 1 warmup + 6 timed requests on the shape model: a smoke check of the whole pipeline,
 * not figures to cite. --only keeps the rows whose label contains TEXT (case-insensitive).
 * --data-dir is where shape models are generated (default $FRONTIER_DATA_DIR or ./data, the
 * worker's). Checks at the end (exit code 1 if one fails): AWQ perplexity below RTN's (mean over
 * seeds) at every bits x group, GPTQ below RTN at 3 bits, RTN 8-bit within 1% of the fp32 baseline.
 */
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { executeJob, resolveModel, type EngineOptions } from "../workers/execute";
import { jobSpecIn } from "../workers/job/spec";
import type { DatasetRef, JobReporter, JobResult, ModelRef } from "../workers/types";
import { shapeModelRegistration } from "../workers/onnx/shape-cache";
import { DEFAULT_QUALITY, scoreTexts, type TextScore } from "../workers/eval/quality";
import { DEFAULT_BENCH } from "../workers/eval/bench";
import { readDataset, splitExamples } from "../workers/eval/dataset";
import { openDecoder } from "../workers/eval/decoder-session";
import { pairedPerplexityDiff, type PerplexityDiff } from "../workers/eval/paired-bootstrap";
import { BOOTSTRAP_RESAMPLES } from "../workers/eval/intervals";
import { cpuFeatures } from "../workers/runtimes/isa";
import { speedupVerdict } from "../lib/metrics/intervals";
import { loadTokenizer } from "../workers/tokenizer/tokenizer";
import type { BenchmarkOptions, QualityOptions } from "../workers/eval/types";

function arg(name: string): string | undefined {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 ? process.argv[i + 1] : undefined;
}
const flag = (name: string) => process.argv.includes(`--${name}`);

const CACHE = path.resolve(".cache", "bench-quant");
const quiet: JobReporter = { stage() {}, progress() {}, log() {} };
const QUICK = flag("quick");
const only = arg("only")?.toLowerCase();
const selected = (label: string) => !only || label.toLowerCase().includes(only);

// ------------------------------------------------------------------------------ formatting
const fmt = (v: number | undefined | null, digits = 3) => (v === undefined || v === null || !Number.isFinite(v) ? "—" : v.toFixed(digits));
const mb = (v: number | undefined) => (v === undefined ? "—" : (v / 1e6).toFixed(2));
const mib = (v: number | undefined) => (v === undefined ? "—" : (v / 2 ** 20).toFixed(0));
const withCi = (m: Record<string, number>, key: string, digits: number) => {
  const v = m[key];
  const lo = m[`${key}_lo`];
  const hi = m[`${key}_hi`];
  return Number.isFinite(lo) && Number.isFinite(hi) ? `${fmt(v, digits)} [${fmt(lo, digits)}, ${fmt(hi, digits)}]` : fmt(v, digits);
};
const signed = (v: number, digits = 3) => (v >= 0 ? "+" : "") + v.toFixed(digits);

function formatNote(r: JobResult): string {
  const n = r.notes.find((x) => x.startsWith("format "));
  return n ? n.split(":")[0].replace("format ", "") : "fp32";
}

function meanSd(xs: number[]): { mean: number; sd: number | null } {
  const mean = xs.reduce((a, b) => a + b, 0) / xs.length;
  if (xs.length < 2) return { mean, sd: null };
  const v = xs.reduce((a, x) => a + (x - mean) ** 2, 0) / (xs.length - 1);
  return { mean, sd: Math.sqrt(v) };
}

// ------------------------------------------------------------------------------ jobs
function pathModelRef(id: string, dir: string): ModelRef {
  const files: Record<string, string> = { dir, model: "model.onnx", config: "config.json" };
  if (fs.existsSync(path.join(dir, "tokenizer.json"))) files.tokenizer = "tokenizer.json";
  return { id, kind: "decoder-lm", source: "path", files, sha256: null, card: null };
}

const perplexityRef = (file: string): DatasetRef => ({ id: path.basename(file, ".jsonl"), task: "perplexity", file, sha256: null });

interface JobArgs {
  model: ModelRef;
  dataset: DatasetRef;
  calibration: DatasetRef | null;
  methodId: string;
  params: Record<string, unknown>;
  seed: number;
  baseline: Record<string, number> | null;
  engine: Partial<EngineOptions>;
  dataDir: string;
}

let runCounter = 0;
async function runJob(a: JobArgs): Promise<{ result: JobResult; seconds: number; workDir: string }> {
  const runId = ++runCounter;
  const workDir = path.join(CACHE, "runs", `${process.pid}-${runId}`);
  const spec = jobSpecIn(
    {
      runId,
      methodId: a.methodId,
      params: a.params,
      model: a.model,
      dataset: a.dataset,
      calibration: a.calibration,
      runtime: "cpu",
      seed: a.seed,
      baseline: a.baseline ? { runId: 0, metrics: a.baseline } : null,
    },
    workDir,
    a.dataDir,
  );
  const t0 = performance.now();
  const result = await executeJob(spec, quiet, a.engine);
  return { result, seconds: (performance.now() - t0) / 1000, workDir };
}

const modelArtifact = (r: JobResult) => r.artifacts.find((x) => x.kind === "model")?.path;

// ------------------------------------------------------------------------------ part 1: quality
interface QualitySpec {
  label: string;
  /** "4-bit g32" etc.: the bits x group row a method belongs to (paired comparisons and checks). */
  config: string;
  method: string;
  activations: string;
  methodId: string;
  params: Record<string, unknown>;
  /** Draws calibration data: run once per seed. */
  calibrated: boolean;
}

interface QualityRow extends QualitySpec {
  seeds: number[];
  perplexity: number[];
  bitsEffective: number;
  modelBytes: number;
  seconds: number[];
  /** Seed-1 (first seed) model file, for the paired comparison. */
  modelPath: string | undefined;
  workDirs: string[];
  notes: string[];
}

function qualitySpecs(): QualitySpec[] {
  const grid: [number, number][] = QUICK
    ? [
        [4, 32],
        [3, 128],
      ]
    : [
        [3, 32],
        [3, 128],
        [4, 32],
        [4, 128],
      ];
  const specs: QualitySpec[] = [
    {
      label: "RTN 8-bit per-channel",
      config: "8-bit per-channel",
      method: "RTN",
      activations: "float",
      methodId: "quant.rtn",
      params: { bits: 8, group_size: 0 },
      calibrated: false,
    },
  ];
  for (const [bits, g] of grid) {
    const config = `${bits}-bit g${g}`;
    const p = { bits, group_size: g };
    specs.push(
      { label: `RTN ${config}`, config, method: "RTN", activations: "float", methodId: "quant.rtn", params: p, calibrated: false },
      { label: `GPTQ ${config}`, config, method: "GPTQ", activations: "float", methodId: "quant.gptq", params: { ...p, calib_samples: 64 }, calibrated: true },
      { label: `AWQ ${config}`, config, method: "AWQ", activations: "float", methodId: "quant.awq", params: { ...p, calib_samples: 64 }, calibrated: true },
      { label: `HQQ ${config}`, config, method: "HQQ", activations: "float", methodId: "quant.hqq", params: p, calibrated: false },
    );
  }
  specs.push({
    label: "RTN 4-bit g32 W4A8",
    config: "4-bit g32",
    method: "RTN",
    activations: "int8 per block (accuracy_level 4)",
    methodId: "quant.rtn",
    params: { bits: 4, group_size: 32, accuracy_level: 4 },
    calibrated: false,
  });
  if (!QUICK) {
    specs.push({
      label: "GPTQ 4-bit g32 W4A8",
      config: "4-bit g32",
      method: "GPTQ",
      activations: "int8 per block (accuracy_level 4)",
      methodId: "quant.gptq",
      params: { bits: 4, group_size: 32, calib_samples: 64, accuracy_level: 4 },
      calibrated: true,
    });
  }
  specs.push({
    label: "SmoothQuant W8A8 per-token",
    config: "W8A8",
    method: "SmoothQuant",
    activations: "int8 per token",
    methodId: "quant.smoothquant",
    params: { alpha: 0.5, act_quant: "per-token", calib_samples: 64 },
    calibrated: true,
  });
  if (!QUICK) {
    specs.push({
      label: "W8A8 per-token, no smoothing",
      config: "W8A8",
      method: "W8A8 (no smoothing)",
      activations: "int8 per token",
      methodId: "quant.smoothquant",
      params: { smoothing: false, act_quant: "per-token" },
      calibrated: false,
    });
  }
  return specs;
}

// ------------------------------------------------------------------------------ main
async function main() {
  const tStart = performance.now();
  fs.mkdirSync(CACHE, { recursive: true });
  const lines: string[] = [];
  const checks: { name: string; ok: boolean; detail: string }[] = [];
  const say = (s = "") => {
    lines.push(s);
    console.log(s);
  };
  const progress = (s: string) => console.error(`  ${s}`);
  const seeds = (arg("seeds") ?? (QUICK ? "1" : "1,2,3")).split(",").map((s) => Number(s.trim()));
  if (seeds.length === 0 || seeds.some((s) => !Number.isInteger(s))) throw new Error(`--seeds: comma-separated integers, got ${arg("seeds")}`);
  const dataDir = path.resolve(arg("data-dir") ?? process.env.FRONTIER_DATA_DIR ?? "data");
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
  const calibration = perplexityRef(calibrationFile);
  const texts = readDataset(dataset);
  const totalExamples = texts.examples.length;
  const examples = Number(arg("examples") ?? (QUICK ? 60 : Math.max(DEFAULT_QUALITY.maxExamples, totalExamples)));
  const quality: QualityOptions = { ...DEFAULT_QUALITY, maxExamples: examples };
  const scoredAll = examples >= totalExamples;
  // zoo-base is far too small for its latency to say anything (shape-125m is for that): a short
  // benchmark keeps the job's interleaved timing from dominating the quality sweep.
  const qualityBench: BenchmarkOptions = { promptLength: 32, decodeTokens: 8, warmup: 1, repeats: 2 };
  const shapeBench: BenchmarkOptions = QUICK ? { ...DEFAULT_BENCH, warmup: 1, repeats: 6 } : DEFAULT_BENCH;
  const model = pathModelRef(path.basename(modelDir), modelDir);
  const rel = (f: string) => path.relative(process.cwd(), f) || f;
  const json: Record<string, unknown> = {};
  let ortVersion = "";

  say(`## Quantization benchmark${QUICK ? " (--quick: smoke check, not figures to cite)" : ""}`);
  say();
  const cpus = os.cpus();
  const machine = {
    cpu: cpus[0]?.model ?? "unknown cpu",
    cores: cpus.length,
    isa: cpuFeatures(),
    memGiB: Math.round(os.totalmem() / 2 ** 30),
    node: process.version,
    date: new Date().toISOString(),
    loadavgStart: os.loadavg()[0],
  };
  json.machine = machine;
  say(
    `machine: ${machine.cpu} x${machine.cores}, ISA ${machine.isa.join(" ") || "unknown"}, ${machine.memGiB} GiB; node ${machine.node}; ${machine.date.slice(0, 16).replace("T", " ")} UTC; load average ${machine.loadavgStart.toFixed(1)} at start; runtime cpu`,
  );
  say();

  // ---------------------------------------------------------------- 1. quality
  const rows: QualityRow[] = [];
  let baseline: Record<string, number> | null = null;
  if (!flag("skip-quality")) {
    const t0 = performance.now();
    for (const spec of qualitySpecs()) {
      if (!selected(spec.label)) continue;
      const row: QualityRow = {
        ...spec,
        seeds: [],
        perplexity: [],
        bitsEffective: NaN,
        modelBytes: NaN,
        seconds: [],
        modelPath: undefined,
        workDirs: [],
        notes: [],
      };
      for (const seed of spec.calibrated ? seeds : seeds.slice(0, 1)) {
        const { result, seconds, workDir } = await runJob({
          model,
          dataset,
          calibration,
          methodId: spec.methodId,
          params: spec.params,
          seed,
          baseline,
          dataDir,
          engine: { quality, bench: qualityBench },
        });
        baseline ??= result.baselineMetrics ?? null;
        ortVersion ||= result.hardware.ortVersion;
        row.seeds.push(seed);
        row.perplexity.push(result.metrics.perplexity);
        row.seconds.push(seconds);
        row.bitsEffective = result.metrics.bits_effective;
        row.modelBytes = result.metrics.model_bytes;
        row.workDirs.push(workDir);
        if (row.seeds.length === 1) {
          row.modelPath = modelArtifact(result);
          row.notes = result.notes.filter((n) => n.startsWith("format ") || n.startsWith("calibration:") || n.startsWith("output head"));
        }
        progress(`${spec.label} seed ${seed}: ppl ${fmt(result.metrics.perplexity, 4)} in ${seconds.toFixed(1)} s`);
      }
      rows.push(row);
    }
    if (!baseline) throw new Error("no baseline was measured (no quality row ran)");
    const base = baseline;
    const qualitySeconds = (performance.now() - t0) / 1000;

    say(`### 1. Quality: ${rel(modelDir)} on ${rel(datasetFile)}`);
    say();
    say(
      `${scoredAll ? `every one of the ${totalExamples} test texts scored (the evaluated set does not depend on the seed)` : `${examples} of ${totalExamples} test texts scored (seeded shuffle)`}; ` +
        `calibration only from ${rel(calibrationFile)}; output head in float32 and float activations unless the row says otherwise. ` +
        `Calibrated methods (GPTQ, AWQ, SmoothQuant) ran with job seeds ${seeds.join(", ")} (the seed draws the calibration sequences): perplexity is mean ± sd over those draws. ` +
        `RTN, HQQ and W8A8 without smoothing use no data and are deterministic: one run, sd "—". Runtime cpu, onnxruntime ${ortVersion}.`,
    );
    say();
    say("| run | activations | format | bits_effective | runs | perplexity (mean ± sd) | Δ vs fp32 | model MB | size vs fp32 | job s (mean) |");
    say("| --- | --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |");
    say(`| fp32 baseline | float | fp32 | 32 | 1 | ${fmt(base.perplexity, 4)} | — | ${mb(base.model_bytes)} | 1.00 | — |`);
    const qualityJson = [];
    for (const r of rows) {
      const { mean, sd } = meanSd(r.perplexity);
      const fmtName =
        r.notes
          .find((n) => n.startsWith("format "))
          ?.split(":")[0]
          .replace("format ", "") ?? "—";
      const ppl = sd === null ? (r.calibrated ? `${fmt(mean, 4)} (1 seed)` : `${fmt(mean, 4)} ± —`) : `${fmt(mean, 4)} ± ${fmt(sd, 4)}`;
      say(
        `| ${r.label} | ${r.activations} | ${fmtName} | ${fmt(r.bitsEffective, 2)} | ${r.seeds.length} | ${ppl} | ${signed(mean - base.perplexity, 4)} | ${mb(r.modelBytes)} | ${fmt(r.modelBytes / base.model_bytes, 2)} | ${fmt(meanSd(r.seconds).mean, 1)} |`,
      );
      qualityJson.push({
        label: r.label,
        config: r.config,
        method: r.method,
        activations: r.activations,
        methodId: r.methodId,
        params: r.params,
        seeds: r.seeds,
        perplexity: r.perplexity,
        mean,
        sd,
        bitsEffective: r.bitsEffective,
        modelBytes: r.modelBytes,
        seconds: r.seconds,
        notes: r.notes,
      });
    }
    say();
    const a8 = rows.filter((r) => r.label.endsWith("W4A8"));
    if (a8.length > 0) {
      say("W4A8 beside W4A16 (4-bit g32; W4A8 = int8 activations per block inside MatMulNBits, accuracy_level 4):");
      say();
      say("| method | W4A16 perplexity | W4A8 perplexity | W4A8 − W4A16 |");
      say("| --- | ---: | ---: | ---: |");
      for (const r of a8) {
        const w16 = rows.find((x) => x.label === `${r.method} 4-bit g32`);
        const m8 = meanSd(r.perplexity).mean;
        const m16 = w16 ? meanSd(w16.perplexity).mean : NaN;
        say(`| ${r.method} | ${fmt(m16, 4)} | ${fmt(m8, 4)} | ${Number.isFinite(m16) ? signed(m8 - m16, 4) : "—"} |`);
      }
      say();
    }
    say(
      `quality sweep: ${rows.reduce((a, r) => a + r.seeds.length, 0)} jobs in ${qualitySeconds.toFixed(0)} s (each job also times base and quantized model briefly and probes peak RSS; those zoo-base figures are not reported)`,
    );
    say();
    json.baseline = { perplexity: base.perplexity, modelBytes: base.model_bytes };
    json.quality = qualityJson;
    json.qualitySeconds = qualitySeconds;

    // checks on the means
    const mean = (label: string) => {
      const r = rows.find((x) => x.label === label);
      return r ? meanSd(r.perplexity).mean : undefined;
    };
    const configs = [...new Set(rows.filter((r) => /^\d-bit g\d+$/.test(r.config)).map((r) => r.config))];
    for (const c of configs) {
      const [awq, rtn, gptq] = [mean(`AWQ ${c}`), mean(`RTN ${c}`), mean(`GPTQ ${c}`)];
      if (awq !== undefined && rtn !== undefined)
        checks.push({
          name: `AWQ perplexity below RTN (${c}, mean over ${seeds.length} seed${seeds.length > 1 ? "s" : ""})`,
          ok: awq < rtn,
          detail: `${fmt(awq, 4)} vs ${fmt(rtn, 4)}`,
        });
      if (c.startsWith("3-bit") && gptq !== undefined && rtn !== undefined)
        checks.push({ name: `GPTQ perplexity below RTN (${c}, mean)`, ok: gptq < rtn, detail: `${fmt(gptq, 4)} vs ${fmt(rtn, 4)}` });
    }
    const r8 = mean("RTN 8-bit per-channel");
    if (r8 !== undefined) {
      const relDiff = Math.abs(r8 - base.perplexity) / base.perplexity;
      checks.push({ name: "RTN 8-bit per-channel perplexity within 1% of fp32", ok: relDiff < 0.01, detail: `${(100 * relDiff).toFixed(3)}%` });
    }

    // ---------------------------------------------------------------- 2. paired bootstrap per text
    if (!flag("skip-paired")) {
      const t1 = performance.now();
      const resolved = resolveModel(model);
      if (!resolved.tokenizerPath) throw new Error(`${rel(modelDir)} has no tokenizer.json: no per-text perplexity`);
      const tokenizer = loadTokenizer(resolved.tokenizerPath);
      const decoderOptions = { configPath: resolved.configPath, maxPosition: resolved.maxPosition };
      // The texts the seed-1 jobs scored (the whole split when every example is scored).
      const scored = splitExamples(texts.examples as { text: string }[], seeds[0], examples).scored.map((e) => e.text);
      const cache = new Map<string, TextScore[]>();
      const perText = async (modelPath: string): Promise<TextScore[]> => {
        let s = cache.get(modelPath);
        if (!s) {
          const decoder = await openDecoder(modelPath, "cpu", decoderOptions);
          try {
            s = await scoreTexts(decoder, tokenizer, scored, quality);
          } finally {
            await decoder.release();
          }
          cache.set(modelPath, s);
        }
        return s;
      };
      const pairedJson: (PerplexityDiff & { config: string; method: string; baselineMethod: string })[] = [];
      const pairedLines: string[] = [];
      let mismatch = 0;
      for (const c of configs) {
        const rtn = rows.find((r) => r.label === `RTN ${c}`);
        if (!rtn?.modelPath) continue;
        for (const method of ["AWQ", "GPTQ"]) {
          const other = rows.find((r) => r.label === `${method} ${c}`);
          if (!other?.modelPath) continue;
          const a = await perText(other.modelPath);
          const b = await perText(rtn.modelPath);
          const d = pairedPerplexityDiff(a, b, 0x9e3779b9 ^ seeds[0]);
          // The per-text sums must give the job's own perplexity (same code, same texts).
          for (const [r, p] of [
            [other, d.pplA],
            [rtn, d.pplB],
          ] as const) {
            if (Math.abs(p - r.perplexity[0]) > 1e-6 * r.perplexity[0]) {
              mismatch++;
              progress(`warning: per-text perplexity of ${r.label} is ${p}, its job reported ${r.perplexity[0]}`);
            }
          }
          pairedJson.push({ ...d, config: c, method, baselineMethod: "RTN" });
          pairedLines.push(
            `| ${c} | ${method} − RTN | ${fmt(d.pplA, 4)} | ${fmt(d.pplB, 4)} | ${signed(d.diff, 4)} | [${signed(d.lo, 4)}, ${signed(d.hi, 4)}] | ${d.excludesZero ? (d.hi < 0 ? `yes: ${method} lower` : `yes: ${method} higher`) : "no"} |`,
          );
          progress(`paired ${method} vs RTN ${c}: ${signed(d.diff, 4)} [${signed(d.lo, 4)}, ${signed(d.hi, 4)}]`);
        }
      }
      const pairedSeconds = (performance.now() - t1) / 1000;
      if (pairedLines.length > 0) {
        say(`### 2. Paired per-text bootstrap of perplexity differences (seed-${seeds[0]} models)`);
        say();
        say(
          `Each model's NLL sum and token count per text over the same ${scored.length} texts (workers/eval/quality.ts scoreTexts, the code behind the job's perplexity; ` +
            `the per-text sums reproduce each job's perplexity${mismatch ? ` except in ${mismatch} case(s), see stderr` : ""}). ` +
            `Texts resampled with replacement ${BOOTSTRAP_RESAMPLES} times (seeded), the same draw for both models; Δ = ppl(method) − ppl(RTN) over the drawn texts; 95% percentile interval.`,
        );
        say();
        say("| bits × group | comparison | ppl method | ppl RTN | Δ ppl | 95% interval | excludes 0 |");
        say("| --- | --- | ---: | ---: | ---: | --- | --- |");
        for (const l of pairedLines) say(l);
        say();
        say(`paired comparisons: ${cache.size} models scored per text in ${pairedSeconds.toFixed(0)} s`);
        say();
      }
      json.paired = pairedJson;
      json.pairedSeconds = pairedSeconds;
    }
  }

  // ---------------------------------------------------------------- 3. latency and memory on a shape model
  if (!flag("skip-shape")) {
    const t2 = performance.now();
    const shapeName = arg("shape") ?? "shape-125m";
    const reg = shapeModelRegistration(shapeName);
    const shapeRef: ModelRef = { id: reg.id, kind: reg.kind, source: reg.source, files: reg.files, sha256: null, card: reg.card };
    const shapeSpecs: [string, string, Record<string, unknown>][] = [
      ["RTN 4-bit g32 (W4A16)", "float", { bits: 4, group_size: 32 }],
      ["RTN 4-bit g32 W4A8", "int8 per block (accuracy_level 4)", { bits: 4, group_size: 32, accuracy_level: 4 }],
      ...(QUICK
        ? []
        : ([
            ["RTN 4-bit g128", "float", { bits: 4, group_size: 128 }],
            ["RTN 8-bit per-channel", "float", { bits: 8, group_size: 0 }],
          ] as [string, string, Record<string, unknown>][])),
    ];
    const shapeRows: { label: string; activations: string; result: JobResult; seconds: number }[] = [];
    for (const [label, activations, params] of shapeSpecs) {
      if (!selected(label)) continue;
      progress(`${shapeName} ${label}: running${shapeRows.length === 0 ? ` (the model is generated into ${dataDir}/shapes on first use)` : ""}`);
      // No baseline handed over: every job measures the fp32 model's peak RSS in its own fresh
      // process, beside the quantized model's, and times both interleaved.
      const { result, seconds, workDir } = await runJob({
        model: shapeRef,
        dataset,
        calibration: null,
        methodId: "quant.rtn",
        params,
        seed: seeds[0],
        baseline: null,
        dataDir,
        engine: { quality, bench: shapeBench },
      });
      fs.rmSync(workDir, { recursive: true, force: true });
      ortVersion ||= result.hardware.ortVersion;
      shapeRows.push({ label, activations, result, seconds });
      const m = result.metrics;
      progress(`${shapeName} ${label}: decode ${fmt(m.decode_ms_per_token)} ms, speedup ${withCi(m, "speedup", 3)} in ${seconds.toFixed(1)} s`);
    }
    const shapeSeconds = (performance.now() - t2) / 1000;
    if (shapeRows.length > 0) {
      const gen = shapeRows[0].result.notes.find((n) => n.includes("generated on this worker"));
      say(`### 3. Latency and memory: ${shapeName} (random weights: speed and memory only), cpu`);
      say();
      say(
        `${reg.card.description}; fp32 ${(reg.card.weightsBytes / 1e6).toFixed(0)} MB of weights${gen ? ` (${gen})` : ""}. ` +
          `Each row is one job: prompt ${shapeBench.promptLength} tokens + ${shapeBench.decodeTokens} decode steps, ${shapeBench.warmup} warmup + ${shapeBench.repeats} timed requests per model, ` +
          `fp32 and quantized model interleaved request by request; medians with 95% intervals (prefill: order statistics; decode: bootstrap over requests; speedup: paired bootstrap over request pairs, ${BOOTSTRAP_RESAMPLES} resamples). ` +
          `A speedup whose interval holds 1.0 is "no measurable change". Peak RSS: VmHWM of a fresh process that loads only that model and runs 2 requests. ` +
          `Output head in float32 (the default).`,
      );
      say();
      say(
        "| run | activations | format | bits_effective | fp32 decode ms/token | run decode ms/token | fp32 prefill ms | run prefill ms | speedup (decode) | verdict | job s |",
      );
      say("| --- | --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | --- | ---: |");
      for (const r of shapeRows) {
        const m = r.result.metrics;
        const b = r.result.baselineMetrics ?? {};
        say(
          `| ${r.label} | ${r.activations} | ${formatNote(r.result)} | ${fmt(m.bits_effective, 2)} | ${withCi(b, "decode_ms_per_token", 2)} | ${withCi(m, "decode_ms_per_token", 2)} | ${withCi(b, "prefill_ms", 1)} | ${withCi(m, "prefill_ms", 1)} | ${withCi(m, "speedup", 3)} | ${speedupVerdict(m.speedup_lo, m.speedup_hi)} | ${r.seconds.toFixed(0)} |`,
        );
      }
      say();
      say("| run | fp32 model MB | run model MB | size vs fp32 | fp32 peak RSS MiB | run peak RSS MiB | RSS run / fp32 |");
      say("| --- | ---: | ---: | ---: | ---: | ---: | ---: |");
      for (const r of shapeRows) {
        const m = r.result.metrics;
        const b = r.result.baselineMetrics ?? {};
        say(
          `| ${r.label} | ${mb(b.model_bytes)} | ${mb(m.model_bytes)} | ${fmt(m.model_bytes / b.model_bytes, 3)} | ${mib(b.peak_rss_bytes)} | ${mib(m.peak_rss_bytes)} | ${fmt(m.peak_rss_bytes / b.peak_rss_bytes, 3)} |`,
        );
      }
      say();
      say(`shape-model part: ${shapeRows.length} jobs in ${shapeSeconds.toFixed(0)} s`);
      say();
      const rssMissing = shapeRows.flatMap((r) => r.result.notes.filter((n) => n.includes("peak_rss_bytes not measured")));
      for (const n of rssMissing) say(`note: ${n}`);
      json.shape = shapeRows.map((r) => ({
        label: r.label,
        activations: r.activations,
        metrics: r.result.metrics,
        baselineMetrics: r.result.baselineMetrics,
        seconds: r.seconds,
        notes: r.result.notes,
      }));
      json.shapeSeconds = shapeSeconds;
    }
  }

  // ---------------------------------------------------------------- checks, cleanup
  say("Checks:");
  if (checks.length === 0) say("- (none: the rows they compare did not run)");
  for (const c of checks) say(`- ${c.ok ? "PASS" : "FAIL"} ${c.name}: ${c.detail}`);
  say();
  const wall = (performance.now() - tStart) / 1000;
  say(`wall time ${(wall / 60).toFixed(1)} min; load average ${os.loadavg()[0].toFixed(1)} at the end; onnxruntime ${ortVersion || "—"}`);
  for (const r of rows) for (const d of r.workDirs) fs.rmSync(d, { recursive: true, force: true });
  const out = arg("json");
  if (out) {
    fs.writeFileSync(
      out,
      JSON.stringify(
        {
          ...json,
          options: { quick: QUICK, only: only ?? null, seeds, examples, model: rel(modelDir), dataset: rel(datasetFile), calibration: rel(calibrationFile) },
          checks,
          wallSeconds: wall,
          lines,
        },
        null,
        2,
      ),
    );
  }
  if (checks.some((c) => !c.ok)) process.exitCode = 1;
}

main().catch((e) => {
  console.error(e instanceof Error ? e.stack : e);
  process.exit(1);
});
