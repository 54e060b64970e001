/**
 * The job executor: runs one JobSpec in the worker's child process and returns its metrics.
 *
 * Pipeline (each step reported as a stage): resolve model + dataset -> baseline (measured here when
 * the server has none and the method is not the baseline itself) -> apply method -> evaluate quality
 * -> benchmark latency/memory -> deltas against the baseline. Nothing is estimated: a stage that
 * cannot run (quality of a shape-only model) is left out and a note says why.
 */
import fs from "node:fs";
import path from "node:path";
import { getMethod } from "../lib/methods";
import type { JobReporter, JobResult, JobSpec, ModelRef } from "./types";
import { hardwareFingerprint } from "./runtimes";
import { loadExecutor } from "./methods";
import type { MethodContext } from "./methods/types";
import { openDecoder, readDecoderConfig, shapeFromFiles, type OpenDecoderOptions } from "./eval/decoder-session";
import { DEFAULT_QUALITY, evaluateDataset, primaryMetric } from "./eval/quality";
import { benchmarkModel, DEFAULT_BENCH } from "./eval/bench";
import { exampleText, readDataset, seededRng, splitExamples } from "./eval/dataset";
import { modelStats } from "./eval/model-stats";
import type { BenchmarkOptions, MeasuredMetrics, QualityOptions, TextTokenizer } from "./eval/types";

export interface EngineOptions {
  quality: QualityOptions;
  bench: BenchmarkOptions;
}

export const DEFAULT_ENGINE: EngineOptions = { quality: DEFAULT_QUALITY, bench: DEFAULT_BENCH };

export interface ResolvedModel {
  modelPath: string;
  tokenizerPath: string | null;
  configPath: string;
  shapeOnly: boolean;
  maxPosition: number | null;
}

/** Where the model's files are, and whether it is a shape-only (random weights) model. */
export function resolveModel(model: ModelRef): ResolvedModel {
  if (model.kind !== "decoder-lm") throw new Error(`model ${model.id}: kind "${model.kind}" is not supported by the decoder engine`);
  const dir = model.files.dir ?? "";
  const file = model.files.model;
  if (!file) throw new Error(`model ${model.id}: files.model is missing`);
  const modelPath = path.resolve(dir, file);
  if (!fs.existsSync(modelPath)) throw new Error(`model ${model.id}: ${modelPath} does not exist`);
  const configPath = path.resolve(dir, model.files.config ?? path.join(path.dirname(file), "config.json"));
  const config = readDecoderConfig(configPath);
  const card = model.card ?? readJson(path.resolve(dir, model.files.card ?? path.join(path.dirname(file), "card.json")));
  const shapeOnly = model.source === "shape" || card.shapeOnly === true || config.shapeOnly === true;
  let tokenizerPath: string | null = null;
  if (model.files.tokenizer) {
    tokenizerPath = path.resolve(dir, model.files.tokenizer);
    if (!fs.existsSync(tokenizerPath)) throw new Error(`model ${model.id}: tokenizer ${tokenizerPath} does not exist`);
  }
  const cardMax = typeof card.maxPosition === "number" ? card.maxPosition : typeof card.max_position === "number" ? card.max_position : null;
  return { modelPath, tokenizerPath, configPath, shapeOnly, maxPosition: config.maxPosition ?? cardMax };
}

function readJson(file: string): Record<string, unknown> {
  return fs.existsSync(file) ? (JSON.parse(fs.readFileSync(file, "utf8")) as Record<string, unknown>) : {};
}

async function loadTextTokenizer(file: string): Promise<TextTokenizer> {
  const { loadTokenizer } = await import("./tokenizer/tokenizer");
  return loadTokenizer(file);
}

function section(r: JobReporter, name: string, from: number, to: number) {
  r.stage(name, from);
  return (f: number) => r.progress(from + (to - from) * Math.min(1, Math.max(0, f)));
}

export async function executeJob(spec: JobSpec, reporter: JobReporter, options: Partial<EngineOptions> = {}): Promise<JobResult> {
  const opts: EngineOptions = { quality: { ...DEFAULT_ENGINE.quality, ...options.quality }, bench: { ...DEFAULT_ENGINE.bench, ...options.bench } };
  const notes: string[] = [];
  const isBaseline = spec.methodId === "baseline";

  // --- resolve
  reporter.stage("resolve", 0);
  const def = getMethod(spec.methodId);
  if (!def) throw new Error(`unknown method "${spec.methodId}"`);
  if (!def.implemented) throw new Error(`method "${spec.methodId}" is not implemented`);
  const parsed = def.params.safeParse(spec.params);
  if (!parsed.success) {
    const lines = parsed.error.issues.map((i) => `${i.path.join(".") || "params"}: ${i.message}`);
    throw new Error(`invalid params for ${spec.methodId}: ${lines.join("; ")}`);
  }
  const executor = await loadExecutor(spec.methodId);
  const model = resolveModel(spec.model);
  const dataset = readDataset(spec.dataset); // validates every line before any compute is spent
  const tokenizer = model.tokenizerPath ? await loadTextTokenizer(model.tokenizerPath) : null;
  const hardware = await hardwareFingerprint(spec.runtime);
  const decoderOptions: OpenDecoderOptions = { configPath: model.configPath, maxPosition: model.maxPosition };
  const canScore = !model.shapeOnly && tokenizer !== null;
  const qualityNote = model.shapeOnly
    ? "shape-only model (random weights): speed and memory only, no quality metric"
    : "model has no tokenizer: speed and memory only, no quality metric";
  if (!canScore) notes.push(qualityNote);
  notes.push(`runtime ${spec.runtime}: ${hardware.ortVersion} on ${hardware.cpuModel} x${hardware.cpuCores}${hardware.adapter ? `, adapter ${hardware.adapter.vendor} ${hardware.adapter.architecture} ${hardware.adapter.description}` : ""}`);

  // The shape from config.json and the graph's input names saves loading the model just to read it.
  let shape = shapeFromFiles(model.modelPath, decoderOptions);
  if (!shape) {
    const probe = await openDecoder(model.modelPath, spec.runtime, decoderOptions);
    shape = probe.shape;
    await probe.release();
  }

  const evaluateQuality = async (modelPath: string, onProgress?: (f: number) => void): Promise<MeasuredMetrics> => {
    if (!canScore || !tokenizer) return { metrics: {}, notes: [] };
    const decoder = await openDecoder(modelPath, spec.runtime, decoderOptions);
    try {
      return await evaluateDataset(decoder, tokenizer, spec.dataset, spec.seed, opts.quality, onProgress);
    } finally {
      await decoder.release();
    }
  };
  const benchmark = async (modelPath: string, bench?: Partial<BenchmarkOptions>): Promise<MeasuredMetrics> => {
    const r = await benchmarkModel(modelPath, spec.runtime, { ...opts.bench, ...bench, seed: spec.seed, decoder: decoderOptions });
    return { metrics: r.metrics, notes: r.notes };
  };
  const measure = async (modelPath: string, name: string, from: number, to: number) => {
    const mid = from + (to - from) * 0.7;
    const q = await evaluateQuality(modelPath, section(reporter, `${name}: quality`, from, mid));
    reporter.stage(`${name}: benchmark`, mid);
    const s = await benchmark(modelPath);
    return { metrics: { ...q.metrics, ...s.metrics }, notes: [...q.notes, ...s.notes] };
  };

  // --- baseline
  let baseline: Record<string, number> | null = spec.baseline?.metrics ?? null;
  let baselineMetrics: Record<string, number> | undefined;
  if (isBaseline) {
    const m = await measure(model.modelPath, "baseline", 0.05, 0.95);
    reporter.stage("report", 0.95);
    return { metrics: m.metrics, hardware, artifacts: [], notes: [...notes, ...m.notes] };
  }
  if (!baseline) {
    const m = await measure(model.modelPath, "baseline", 0.05, 0.4);
    baseline = baselineMetrics = m.metrics;
    notes.push("baseline measured in this run (no baseline on the server for this model, dataset and runtime)");
  } else {
    notes.push(`deltas against baseline run ${spec.baseline?.runId}`);
  }

  // --- apply
  reporter.stage("apply", 0.4);
  const ctx: MethodContext = {
    runId: spec.runId,
    model: spec.model,
    modelPath: model.modelPath,
    dataset: spec.dataset,
    runtime: spec.runtime,
    workDir: spec.workDir,
    seed: spec.seed,
    rng: seededRng(spec.seed),
    reporter,
    tokenizer,
    shape,
    shapeOnly: model.shapeOnly,
    openDecoder: (p) => openDecoder(p ?? model.modelPath, spec.runtime, decoderOptions),
    evaluateQuality: (p) => evaluateQuality(p),
    benchmark,
    calibrationBatches: async (n, seqLen) => {
      if (!tokenizer) throw new Error("calibration needs the model's tokenizer, and this model has none");
      if (model.shapeOnly) throw new Error("calibration on a shape-only model (random weights) is meaningless; use a trained model");
      const { scored, rest } = splitExamples(dataset.examples as CalibrationExample[], spec.seed, opts.quality.maxExamples);
      const calib = spec.calibration ? readDataset(spec.calibration) : null;
      // The validation split is scored by no run on this dataset; the job's own unscored examples
      // follow it in case it is small.
      const unscored = [...(calib ? splitExamples(calib.examples as CalibrationExample[], spec.seed, 0).rest : []), ...rest];
      const from = calib
        ? `dataset ${spec.calibration!.id} (validation split of ${spec.dataset.id})`
        : `dataset ${spec.dataset.id}, examples the evaluation does not score (no validation split registered)`;
      let r: CalibrationSet;
      let source = from;
      try {
        r = calibrationFrom(unscored.map(exampleText), tokenizer, n, seqLen);
      } catch (e) {
        if (!(e instanceof CalibrationTooShort) || scored.length === 0) throw e;
        // Too little unscored text for one sequence: calibrating on scored examples is the only way
        // the method can run, and the run says so.
        r = calibrationFrom([...unscored, ...scored].map(exampleText), tokenizer, n, seqLen);
        source = `${from}, plus examples the evaluation also scores`;
        reporter.log(`calibration: unscored text (${e.tokens} tokens) cannot form one sequence; it also uses scored examples`, "warn");
      }
      const count = `${r.batches.length} sequence${r.batches.length === 1 ? "" : "s"}`;
      const line = `calibration: ${source}: ${count} x ${r.seqLen} tokens from ${r.examplesUsed} examples`;
      reporter.log(line);
      if (!notes.includes(line)) notes.push(line);
      if (r.batches.length < n || r.seqLen < seqLen) {
        reporter.log(`calibration asked for ${n} x ${seqLen} = ${n * seqLen} tokens; the text has ${r.tokens}, so it uses ${r.batches.length} x ${r.seqLen}`, "warn");
      }
      return r.batches;
    },
  };
  const result = await executor.run(ctx, parsed.data as Record<string, unknown>);
  notes.push(...result.notes);
  const metrics: Record<string, number> = { ...result.metrics };

  // --- evaluate + benchmark
  if (result.modelPath) {
    if (!result.measured?.quality) {
      const q = await evaluateQuality(result.modelPath, section(reporter, "quality", 0.45, 0.75));
      Object.assign(metrics, q.metrics);
      notes.push(...q.notes);
    }
    if (!result.measured?.speed) {
      reporter.stage("benchmark", 0.75);
      const s = await benchmark(result.modelPath);
      Object.assign(metrics, s.metrics);
      notes.push(...s.notes);
    }
  } else {
    // Decoding-time methods keep the weights: the model on disk is the base model.
    const st = modelStats(model.modelPath);
    metrics.model_bytes ??= st.modelBytes;
    metrics.weights_bytes ??= st.weightsBytes;
    if (!result.measured?.quality && canScore) notes.push(`${spec.methodId} reported no quality metric`);
    if (!result.measured?.speed) notes.push(`${spec.methodId} reported no latency metric`);
  }

  // --- deltas
  reporter.stage("report", 0.95);
  Object.assign(metrics, deltas(spec.dataset.task, metrics, baseline));
  return { metrics, hardware, artifacts: result.artifacts, ...(baselineMetrics ? { baselineMetrics } : {}), notes };
}

/** quality_delta (signed so higher is better), speedup and compression_ratio against the baseline. */
export function deltas(task: JobSpec["dataset"]["task"], run: Record<string, number>, base: Record<string, number>): Record<string, number> {
  const out: Record<string, number> = {};
  const key = primaryMetric(task);
  if (Number.isFinite(run[key]) && Number.isFinite(base[key])) {
    out.quality_delta = key === "perplexity" ? base[key] - run[key] : run[key] - base[key];
  }
  if (run.decode_ms_per_token > 0 && base.decode_ms_per_token > 0) out.speedup = base.decode_ms_per_token / run.decode_ms_per_token;
  if (run.model_bytes > 0 && base.model_bytes > 0) out.compression_ratio = base.model_bytes / run.model_bytes;
  return out;
}

type CalibrationExample = Parameters<typeof exampleText>[0];

/** Shortest calibration sequence worth running: below it, attention statistics are mostly the first tokens'. */
export const MIN_CALIBRATION_SEQ = 16;

export class CalibrationTooShort extends Error {
  constructor(
    readonly tokens: number,
    n: number,
    seqLen: number,
    minLen: number,
  ) {
    super(`calibration text has ${tokens} tokens in all, fewer than one sequence of ${minLen} (asked for ${n} x ${seqLen} = ${n * seqLen})`);
  }
}

export interface CalibrationSet {
  batches: number[][];
  /** Tokens per sequence: `seqLen`, or fewer when the text is shorter than one sequence. */
  seqLen: number;
  /** Tokens the texts read gave (at most n x seqLen). */
  tokens: number;
  examplesUsed: number;
}

/**
 * Cuts the token stream of `texts` (each preceded by the end-of-text token when there is one) into
 * `n` windows of `seqLen` tokens, in order. Text short of n x seqLen tokens gives as many full
 * windows as it holds, or one window of all of it when that is under `seqLen` but at least
 * MIN_CALIBRATION_SEQ (or `seqLen`, if smaller); less than that throws CalibrationTooShort.
 */
export function calibrationFrom(texts: string[], tokenizer: TextTokenizer, n: number, seqLen: number): CalibrationSet {
  if (!(n >= 1 && seqLen >= 2)) throw new Error(`calibration needs n >= 1 and seqLen >= 2 (got ${n}, ${seqLen})`);
  const stream: number[] = [];
  let examplesUsed = 0;
  for (const t of texts) {
    if (stream.length >= n * seqLen) break;
    if (tokenizer.eosId !== null) stream.push(tokenizer.eosId);
    stream.push(...tokenizer.encode(t));
    examplesUsed++;
  }
  const tokens = Math.min(stream.length, n * seqLen);
  const minLen = Math.min(MIN_CALIBRATION_SEQ, seqLen);
  if (tokens < minLen) throw new CalibrationTooShort(tokens, n, seqLen, minLen);
  const len = Math.min(seqLen, tokens);
  const count = Math.min(n, Math.floor(tokens / len));
  const batches = Array.from({ length: count }, (_, i) => stream.slice(i * len, (i + 1) * len));
  return { batches, seqLen: len, tokens, examplesUsed };
}
