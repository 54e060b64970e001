/**
 * Structural pruning benchmark (prune.structured, prune.layer-drop), cpu runtime:
 *
 * 1. Quality on a trained decoder through the worker's job pipeline (executeJob, via
 *    scripts/bench-prune.ts's runPruneRows): default zoo/zoo-base, perplexity on
 *    zoo/datasets/grammar-test.jsonl (whole split), calibration only from
 *    zoo/datasets/grammar-validation.jsonl. FLAP at ratio 0.1 and 0.3 (target both, FLAP's own
 *    structure, and neurons, the schema default), ShortGPT layer drop of 1 block.
 * 2. Speed on shape-125m (random weights, from the worker's shape cache): the job pipeline refuses
 *    calibration on random weights, so the model is pruned here by the executors' own functions
 *    (calibration sequences from the validation text: which heads / neurons / block go is arbitrary
 *    on random weights, the shapes are what the timing measures), then base and pruned model are
 *    timed interleaved request by request by benchmarkPair (workers/eval/bench.ts). Decode speedup
 *    with its paired-bootstrap 95% interval as a job reports it; prefill speedup = base median
 *    prefill / pruned median prefill with the same paired bootstrap over request pairs.
 *
 *   npx tsx scripts/bench-prune-structured.ts [--quick] [--seeds 1,2,3] [--samples N] [--skip-quality] [--skip-shape]
 *                                             [--only TEXT] [--repeats N]
 *
 * --only keeps the rows whose label contains TEXT (case-insensitive); --repeats sets the timed
 * requests per model on the shape model (default 15; a one-block drop of shape-125m changes decode
 * time by a few percent, which a loaded machine resolves only with more requests).
 *
 * `benchStructural` is the same as an exported function (scripts/bench-prune.ts can call it).
 */
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { pathToFileURL } from "node:url";
import { speedupVerdict } from "../lib/metrics/intervals";
import { benchmarkPair } from "../workers/eval/bench";
import { readDataset } from "../workers/eval/dataset";
import { BOOTSTRAP_RESAMPLES, pairedRatioBootstrap } from "../workers/eval/intervals";
import { DEFAULT_QUALITY } from "../workers/eval/quality";
import type { BenchmarkOptions } from "../workers/eval/types";
import { dropModelLayers } from "../workers/methods/pruning/layer-drop";
import { pruneStructuredModel, type StructuredTarget } from "../workers/methods/pruning/structured";
import { prunedConfig, setConfigMetadata, writeConfig, type LayerInfo } from "../workers/methods/pruning/surgery";
import { readModel, writeModel, type ModelProto } from "../workers/onnx/model-io";
import { materializeShapeModel, shapeModelRegistration } from "../workers/onnx/shape-cache";
import { loadTokenizer } from "../workers/tokenizer/tokenizer";
import { formatPruneTable, pathModelRef, perplexityRef, type PruneBenchEnv, type PruneRowSpec, runPruneRows } from "./bench-prune";

export const structuredRow = (target: StructuredTarget, ratio: number, samples: number): PruneRowSpec => ({
  label: `FLAP ${target} ${ratio}`,
  method: "FLAP (prune.structured)",
  pattern: `${Math.round(ratio * 100)}% of ${target === "both" ? "attention + MLP" : target} params`,
  methodId: "prune.structured",
  params: { target, ratio, calib_samples: samples },
  calibrated: true,
});

export const layerDropRow = (layers: number, samples: number): PruneRowSpec => ({
  label: `ShortGPT drop ${layers}`,
  method: "ShortGPT (prune.layer-drop)",
  pattern: `${layers} block${layers === 1 ? "" : "s"}`,
  methodId: "prune.layer-drop",
  params: { layers, criterion: "block-influence", calib_samples: samples },
  calibrated: true,
});

export function structuralRowSpecs(samples: number): PruneRowSpec[] {
  return [
    structuredRow("both", 0.1, samples),
    structuredRow("both", 0.3, samples),
    structuredRow("neurons", 0.1, samples),
    structuredRow("neurons", 0.3, samples),
    layerDropRow(1, samples),
  ];
}

export interface ShapeSpeedRow {
  label: string;
  paramsRemaining: number;
  paramsDense: number;
  base: Record<string, number>;
  run: Record<string, number>;
  prefillSpeedup: number;
  prefillLo: number;
  prefillHi: number;
  pruneSeconds: number;
}

const median = (xs: readonly number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
};

/** Calibration token sequences of `len` ids from a text file, tokenized by `tokenizerPath`. */
async function textSequences(file: string, tokenizerPath: string, n: number, len: number): Promise<number[][]> {
  const tok = await loadTokenizer(tokenizerPath);
  const text = readDataset(perplexityRef(file))
    .examples.map((e) => (e as { text?: string }).text ?? "")
    .join("\n");
  const ids = tok.encode(text);
  const out: number[][] = [];
  for (let i = 0; i + len <= ids.length && out.length < n; i += len) out.push(ids.slice(i, i + len));
  if (out.length === 0) throw new Error(`${file}: fewer than ${len} tokens`);
  return out;
}

function writePruned(dir: string, baseModelPath: string, model: ModelProto, layers: LayerInfo[]): string {
  fs.mkdirSync(dir, { recursive: true });
  const file = path.join(dir, "model.onnx");
  const config = prunedConfig(baseModelPath, model, layers);
  setConfigMetadata(model, config);
  writeModel(model, file);
  writeConfig(file, config);
  return file;
}

/** Prunes shape-125m (or `shapeName`) with FLAP and ShortGPT and times each against the dense model, interleaved. */
export async function benchShapeSpeed(opts: {
  shapeName: string;
  dataDir: string;
  workDir: string;
  calibrationFile: string;
  bench: BenchmarkOptions;
  seed: number;
  quick: boolean;
  only?: string;
  progress?: (line: string) => void;
}): Promise<ShapeSpeedRow[]> {
  const reg = shapeModelRegistration(opts.shapeName);
  const shape = await materializeShapeModel({ id: reg.id, sha256: null, card: reg.card }, opts.dataDir, opts.progress);
  const base = shape.modelPath;
  const seqs = await textSequences(opts.calibrationFile, path.join(shape.dir, "tokenizer.json"), opts.quick ? 4 : 8, 128);
  const cases: { label: string; apply: (m: ModelProto) => Promise<{ layers: LayerInfo[]; paramsDense: number; paramsRemaining: number }> }[] = [
    { label: "FLAP both 0.3", apply: (m) => pruneStructuredModel(m, seqs, { target: "both", ratio: 0.3 }) },
    ...(opts.quick ? [] : [{ label: "FLAP neurons 0.3", apply: (m: ModelProto) => pruneStructuredModel(m, seqs, { target: "neurons", ratio: 0.3 }) }]),
    { label: "ShortGPT drop 1", apply: (m) => dropModelLayers(m, { layers: 1, criterion: "block-influence" }, seqs) },
  ];
  const rows: ShapeSpeedRow[] = [];
  for (const c of cases.filter((x) => !opts.only || x.label.toLowerCase().includes(opts.only.toLowerCase()))) {
    opts.progress?.(`${opts.shapeName} ${c.label}: pruning`);
    const t0 = performance.now();
    const model = readModel(base);
    const out = await c.apply(model);
    const file = writePruned(path.join(opts.workDir, c.label.replace(/\W+/g, "-")), base, model, out.layers);
    const pruneSeconds = (performance.now() - t0) / 1000;
    opts.progress?.(`${opts.shapeName} ${c.label}: timing against the dense model`);
    const pair = await benchmarkPair(base, file, "cpu", { ...opts.bench, seed: opts.seed, memory: false });
    const bp = pair.base.samples.prefillMs;
    const rp = pair.run.samples.prefillMs;
    const ci = pairedRatioBootstrap(
      bp.map((x) => [x]),
      rp.map((x) => [x]),
      opts.seed,
    );
    rows.push({
      label: c.label,
      paramsDense: out.paramsDense,
      paramsRemaining: out.paramsRemaining,
      base: pair.base.metrics,
      run: pair.run.metrics,
      prefillSpeedup: median(bp) / median(rp),
      prefillLo: ci?.lo ?? Number.NaN,
      prefillHi: ci?.hi ?? Number.NaN,
      pruneSeconds,
    });
    fs.rmSync(path.dirname(file), { recursive: true, force: true });
    const r = rows[rows.length - 1];
    opts.progress?.(
      `${c.label}: decode speedup ${r.run.speedup?.toFixed(3)} [${r.run.speedup_lo?.toFixed(3)}, ${r.run.speedup_hi?.toFixed(3)}], prefill ${r.prefillSpeedup.toFixed(3)}`,
    );
  }
  return rows;
}

const fmt = (v: number | undefined | null, digits = 3) => (v === undefined || v === null || !Number.isFinite(v) ? "—" : v.toFixed(digits));
const ci = (v: number | undefined, lo: number | undefined, hi: number | undefined, d = 3) => `${fmt(v, d)} [${fmt(lo, d)}, ${fmt(hi, d)}]`;

export function formatShapeTable(rows: readonly ShapeSpeedRow[]): string[] {
  return [
    "| run | params remaining | dense decode ms/token | run decode ms/token | decode speedup [95%] | verdict | dense prefill ms | run prefill ms | prefill speedup [95%] | verdict |",
    "|---|---:|---:|---:|---:|---|---:|---:|---:|---|",
    ...rows.map(
      (r) =>
        `| ${r.label} | ${r.paramsRemaining} / ${r.paramsDense} (${fmt(r.paramsRemaining / r.paramsDense, 3)}) | ${fmt(r.base.decode_ms_per_token, 2)} | ${fmt(r.run.decode_ms_per_token, 2)} | ` +
        `${ci(r.run.speedup, r.run.speedup_lo, r.run.speedup_hi)} | ${speedupVerdict(r.run.speedup_lo, r.run.speedup_hi)} | ${fmt(r.base.prefill_ms, 1)} | ${fmt(r.run.prefill_ms, 1)} | ` +
        `${ci(r.prefillSpeedup, r.prefillLo, r.prefillHi)} | ${speedupVerdict(r.prefillLo, r.prefillHi)} |`,
    ),
  ];
}

export interface StructuralBenchOptions {
  quick?: boolean;
  seeds?: number[];
  samples?: number;
  modelDir?: string;
  datasetFile?: string;
  calibrationFile?: string;
  dataDir?: string;
  shapeName?: string;
  skipQuality?: boolean;
  skipShape?: boolean;
  /** Keep only rows whose label contains this (case-insensitive). */
  only?: string;
  /** Timed requests per model on the shape model. */
  repeats?: number;
  progress?: (line: string) => void;
}

/** Both parts; returns the markdown lines and the figures. */
export async function benchStructural(o: StructuralBenchOptions = {}) {
  const quick = o.quick ?? false;
  const seeds = o.seeds ?? (quick ? [1] : [1, 2, 3]);
  const samples = o.samples ?? (quick ? 16 : 64);
  const modelDir = path.resolve(o.modelDir ?? path.join("zoo", "zoo-base"));
  const datasetFile = path.resolve(o.datasetFile ?? path.join("zoo", "datasets", "grammar-test.jsonl"));
  const calibrationFile = path.resolve(o.calibrationFile ?? path.join("zoo", "datasets", "grammar-validation.jsonl"));
  const dataDir = path.resolve(o.dataDir ?? process.env.FRONTIER_DATA_DIR ?? "data");
  const cacheDir = path.resolve(".cache", "bench-prune-structured");
  const cpus = os.cpus();
  const lines = [
    `## Structural pruning benchmark${quick ? " (--quick: smoke check, not figures to cite)" : ""}`,
    "",
    `machine: ${cpus[0]?.model ?? "unknown cpu"} x${cpus.length}; node ${process.version}; ${new Date().toISOString().slice(0, 16).replace("T", " ")} UTC; runtime cpu`,
  ];
  let quality: Awaited<ReturnType<typeof runPruneRows>> | null = null;
  if (!o.skipQuality) {
    const dataset = perplexityRef(datasetFile);
    const total = readDataset(dataset).examples.length;
    const examples = quick ? 60 : Math.max(DEFAULT_QUALITY.maxExamples, total);
    const env: PruneBenchEnv = {
      model: pathModelRef(path.basename(modelDir), modelDir),
      dataset,
      calibration: perplexityRef(calibrationFile),
      engine: { quality: { ...DEFAULT_QUALITY, maxExamples: examples }, bench: { promptLength: 32, decodeTokens: 8, warmup: 1, repeats: 2 } },
      dataDir,
      cacheDir,
      seeds,
      progress: o.progress,
    };
    const specs = (quick ? [structuredRow("both", 0.3, samples), layerDropRow(1, samples)] : structuralRowSpecs(samples)).filter(
      (s) => !o.only || s.label.toLowerCase().includes(o.only.toLowerCase()),
    );
    quality = await runPruneRows(env, specs);
    lines.push(
      "",
      `### Quality: ${path.relative(process.cwd(), modelDir)}, perplexity on ${path.basename(datasetFile)} (${Math.min(examples, total)} of ${total} texts); calibration ${samples} sequences from ${path.basename(calibrationFile)}; seeds ${seeds.join(",")}`,
      "",
      ...formatPruneTable(quality.rows, quality.baseline),
    );
  }
  let shape: ShapeSpeedRow[] | null = null;
  if (!o.skipShape) {
    const shapeName = o.shapeName ?? "shape-125m";
    const bench: BenchmarkOptions = quick
      ? { promptLength: 64, decodeTokens: 8, warmup: 1, repeats: 6 }
      : { promptLength: 128, decodeTokens: 32, warmup: 2, repeats: 15 };
    if (o.repeats !== undefined) bench.repeats = o.repeats;
    shape = await benchShapeSpeed({
      shapeName,
      dataDir,
      workDir: path.join(cacheDir, "shape"),
      calibrationFile,
      bench,
      seed: seeds[0],
      quick,
      only: o.only,
      progress: o.progress,
    });
    lines.push(
      "",
      `### Speed: ${shapeName} (random weights), cpu; prompt ${bench.promptLength} + ${bench.decodeTokens} decode steps, ${bench.warmup} warmup + ${bench.repeats} timed requests per model, interleaved; ` +
        `95% paired bootstrap over request pairs (${BOOTSTRAP_RESAMPLES} resamples)`,
      "",
      ...formatShapeTable(shape),
    );
  }
  return { lines, quality, shape };
}

function arg(name: string): string | undefined {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 ? process.argv[i + 1] : undefined;
}
const flag = (name: string) => process.argv.includes(`--${name}`);

async function main() {
  const seeds = arg("seeds")
    ?.split(",")
    .map((s) => Number(s.trim()));
  if (seeds?.some((s) => !Number.isInteger(s))) throw new Error(`--seeds: comma-separated integers, got ${arg("seeds")}`);
  const samples = arg("samples") === undefined ? undefined : Number(arg("samples"));
  if (samples !== undefined && (!Number.isInteger(samples) || samples < 1)) throw new Error(`--samples: a positive integer, got ${arg("samples")}`);
  const repeats = arg("repeats") === undefined ? undefined : Number(arg("repeats"));
  if (repeats !== undefined && (!Number.isInteger(repeats) || repeats < 2)) throw new Error(`--repeats: an integer of at least 2, got ${arg("repeats")}`);
  const t0 = performance.now();
  const { lines } = await benchStructural({
    only: arg("only"),
    repeats,
    quick: flag("quick"),
    seeds,
    samples,
    skipQuality: flag("skip-quality"),
    skipShape: flag("skip-shape"),
    progress: (s) => console.error(`  ${s}`),
  });
  console.log([...lines, "", `total ${((performance.now() - t0) / 1000).toFixed(0)} s`].join("\n"));
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? "").href) {
  main().catch((e) => {
    console.error(e instanceof Error ? e.message : e);
    process.exit(1);
  });
}
