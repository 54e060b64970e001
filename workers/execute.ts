/**
 * The job executor: runs one JobSpec in the worker's child process and returns its metrics.
 *
 * Pipeline (each step reported as a stage): resolve model + dataset -> baseline quality (measured
 * here when the server has no baseline measured with this job's settings, and the method is not the
 * baseline itself) -> apply method -> evaluate quality -> benchmark the base and the new model
 * interleaved (speedup with its interval) and each model's peak memory in a fresh process -> deltas
 * against the baseline. Nothing is estimated: a stage that cannot run (quality of a shape-only
 * model) is left out and a note says why.
 */
import fs from "node:fs";
import path from "node:path";
import { envSetting } from "../lib/env";
import { getMethod } from "../lib/methods";
import { evalSettingsDiff, type EvalSettingKey } from "../lib/metrics";
import type { JobReporter, JobResult, JobSpec, ModelRef } from "./types";
import { hardwareFingerprint } from "./runtimes";
import { loadExecutor } from "./methods";
import type { MethodContext } from "./methods/types";
import { openDecoder, readDecoderConfig, shapeFromFiles, type OpenDecoderOptions } from "./eval/decoder-session";
import { DEFAULT_QUALITY, evaluateDataset, primaryMetric } from "./eval/quality";
import { benchmarkModel, benchmarkPair, DEFAULT_BENCH } from "./eval/bench";
import { exampleText, readDataset, seededRng, splitExamples } from "./eval/dataset";
import { modelStats } from "./eval/model-stats";
import { withShapeFiles } from "./onnx/shape-cache";
import { verifyRegisteredFile } from "./verify-files";
import type { BenchmarkOptions, MeasuredMetrics, QualityOptions, TextTokenizer } from "./eval/types";

export interface EngineOptions {
  quality: QualityOptions;
  bench: BenchmarkOptions;
}

export const DEFAULT_ENGINE: EngineOptions = { quality: DEFAULT_QUALITY, bench: DEFAULT_BENCH };

/**
 * The settings a run's figures depend on besides model, dataset, runtime, hardware and seed,
 * recorded as metrics on every run (and its auto-baseline) so the server pairs like with like.
 */
export function evalSettings(opts: EngineOptions): Record<EvalSettingKey, number> {
  return {
    eval_max_examples: opts.quality.maxExamples,
    eval_max_tokens_per_text: opts.quality.maxTokensPerText,
    bench_prompt_length: opts.bench.promptLength,
    bench_decode_tokens: opts.bench.decodeTokens,
  };
}

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
  const settings = evalSettings(opts);

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
  // Fail before any model work rather than after the baseline.
  if (def.calibrates?.(parsed.data) && (spec.model.source === "shape" || spec.model.card?.shapeOnly === true)) {
    throw new Error("calibration on a shape-only model (random weights) is meaningless; use a trained model");
  }
  if (def.calibrates?.(parsed.data) && !spec.calibration) throw missingValidationSplit(spec.dataset.id);
  const executor = await loadExecutor(spec.methodId);
  // A shape model has no files until this worker generates them (once, into its data dir's cache).
  const dataDir = spec.dataDir ?? path.resolve(envSetting("FRONTIER_DATA_DIR"));
  const shaped = await withShapeFiles(spec.model, dataDir, (line) => (reporter.stage("resolve: generating shape model", 0.01), reporter.log(line)));
  if (shaped.generated)
    notes.push(
      `${spec.model.id} generated on this worker in ${(shaped.generated.generateMs / 1000).toFixed(1)} s (${(shaped.generated.bytes / 1e6).toFixed(0)} MB)`,
    );
  const modelRef = shaped.model;
  const model = resolveModel(modelRef);
  // The files must be the ones registered (a shape model's generated file is checked as it is made).
  if (modelRef.source !== "shape") await verifyRegisteredFile("model", modelRef.id, model.modelPath, modelRef.sha256);
  await verifyRegisteredFile("dataset", spec.dataset.id, spec.dataset.file, spec.dataset.sha256);
  if (spec.calibration) await verifyRegisteredFile("dataset", spec.calibration.id, spec.calibration.file, spec.calibration.sha256);
  readDataset(spec.dataset); // validates every line before any compute is spent
  const tokenizer = model.tokenizerPath ? await loadTextTokenizer(model.tokenizerPath) : null;
  const hardware = await hardwareFingerprint(spec.runtime);
  const decoderOptions: OpenDecoderOptions = { configPath: model.configPath, maxPosition: model.maxPosition };
  const canScore = !model.shapeOnly && tokenizer !== null;
  const qualityNote = model.shapeOnly
    ? "shape-only model (random weights): speed and memory only, no quality metric"
    : "model has no tokenizer: speed and memory only, no quality metric";
  if (!canScore) notes.push(qualityNote);
  notes.push(
    `runtime ${spec.runtime}: ${hardware.ortVersion} on ${hardware.cpuModel} x${hardware.cpuCores}${hardware.adapter ? `, adapter ${hardware.adapter.vendor} ${hardware.adapter.architecture} ${hardware.adapter.description}` : ""}`,
  );

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
  if (isBaseline) {
    const m = await measure(model.modelPath, "baseline", 0.05, 0.95);
    reporter.stage("report", 0.95);
    return { metrics: { ...m.metrics, ...settings }, hardware, artifacts: [], notes: [...notes, ...m.notes] };
  }
  let baseline: Record<string, number> | null = spec.baseline?.metrics ?? null;
  if (spec.baseline) {
    // The server matched model, dataset, runtime, hardware, seed and onnxruntime version; the
    // evaluation settings are this worker's, so they are checked here.
    const diff = evalSettingsDiff(spec.baseline.metrics, settings);
    if (diff.length > 0) {
      notes.push(
        `baseline run ${spec.baseline.runId} was measured with other evaluation settings (${diff.join(", ")}): measuring a fresh baseline in this run`,
      );
      baseline = null;
    }
  }
  // Measured here when the server has no matching baseline: quality now, speed with the new model
  // (interleaved) below, memory in its own process.
  let baselineQuality: MeasuredMetrics | null = null;
  if (!baseline) {
    baselineQuality = await evaluateQuality(model.modelPath, section(reporter, "baseline: quality", 0.05, 0.35));
    if (!spec.baseline)
      notes.push("baseline measured in this run (no baseline on the server for this model, dataset, runtime, hardware, seed and onnxruntime version)");
  } else {
    notes.push(`deltas against baseline run ${spec.baseline?.runId}`);
  }

  // --- apply
  reporter.stage("apply", 0.4);
  const ctx: MethodContext = {
    runId: spec.runId,
    model: modelRef,
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
      // Calibration never touches scored data: only a registered validation split is used.
      if (!spec.calibration) throw missingValidationSplit(spec.dataset.id);
      const calib = readDataset(spec.calibration);
      const source = `dataset ${spec.calibration.id} (validation split of ${spec.dataset.id})`;
      const r = calibrationFrom(splitExamples(calib.examples as CalibrationExample[], spec.seed, 0).rest.map(exampleText), tokenizer, n, seqLen);
      const count = `${r.batches.length} sequence${r.batches.length === 1 ? "" : "s"}`;
      const line = `calibration: ${source}: ${count} x ${r.seqLen} tokens from ${r.examplesUsed} examples`;
      reporter.log(line);
      if (!notes.includes(line)) notes.push(line);
      if (r.batches.length < n || r.seqLen < seqLen) {
        reporter.log(
          `calibration asked for ${n} x ${seqLen} = ${n * seqLen} tokens; the text has ${r.tokens}, so it uses ${r.batches.length} x ${r.seqLen}`,
          "warn",
        );
      }
      return r.batches;
    },
    paramModel: async (id) => {
      const ref = spec.models?.find((m) => m.id === id);
      if (!ref) throw new Error(`model ${id} named in the params was not sent with the run (the server resolves registered models it names)`);
      const shapedRef = await withShapeFiles(ref, dataDir, (line) => reporter.log(line));
      const r = resolveModel(shapedRef.model);
      if (shapedRef.model.source !== "shape") await verifyRegisteredFile("model", id, r.modelPath, ref.sha256);
      const options: OpenDecoderOptions = { configPath: r.configPath, maxPosition: r.maxPosition };
      return {
        id,
        modelPath: r.modelPath,
        tokenizerPath: r.tokenizerPath,
        shapeOnly: r.shapeOnly,
        open: () => openDecoder(r.modelPath, spec.runtime, options),
      };
    },
  };
  const result = await executor.run(ctx, parsed.data as Record<string, unknown>);
  notes.push(...result.notes);
  const metrics: Record<string, number> = { ...result.metrics };

  // --- evaluate + benchmark
  let baselineSpeed: MeasuredMetrics | null = null;
  if (result.modelPath) {
    if (!result.measured?.quality) {
      const q = await evaluateQuality(result.modelPath, section(reporter, "quality", 0.45, 0.75));
      Object.assign(metrics, q.metrics);
      notes.push(...q.notes);
    }
    if (!result.measured?.speed) {
      // Base and new model timed request by request, so the speedup never leans on a baseline run
      // measured at another time under another load.
      reporter.stage("benchmark", 0.75);
      const pair = await benchmarkPair(model.modelPath, result.modelPath, spec.runtime, {
        ...opts.bench,
        seed: spec.seed,
        decoder: decoderOptions,
        baseMemory: baselineQuality !== null,
      });
      Object.assign(metrics, pair.run.metrics);
      notes.push(...pair.run.notes);
      if (baselineQuality) {
        baselineSpeed = pair.base;
        notes.push(...pair.base.notes.filter((n) => n.startsWith("peak_rss_bytes")).map((n) => `baseline ${n}`));
      }
    }
  } else {
    // Decoding-time methods keep the weights: the model on disk is the base model.
    const st = modelStats(model.modelPath);
    metrics.model_bytes ??= st.modelBytes;
    metrics.weights_bytes ??= st.weightsBytes;
    if (!result.measured?.quality && canScore) notes.push(`${spec.methodId} reported no quality metric`);
    if (!result.measured?.speed) notes.push(`${spec.methodId} reported no latency metric`);
  }
  if (metrics.speedup === undefined) notes.push("no speedup: it is reported only from base and new model timed interleaved in the same run");

  let baselineMetrics: Record<string, number> | undefined;
  if (baselineQuality) {
    if (!baselineSpeed) {
      reporter.stage("baseline: benchmark", 0.85);
      baselineSpeed = await benchmark(model.modelPath);
    }
    baseline = baselineMetrics = { ...baselineQuality.metrics, ...baselineSpeed.metrics, ...settings };
  }

  // --- deltas
  reporter.stage("report", 0.95);
  Object.assign(metrics, deltas(spec.dataset.task, metrics, baseline ?? {}), settings);
  return { metrics, hardware, artifacts: result.artifacts, ...(baselineMetrics ? { baselineMetrics } : {}), notes };
}

function missingValidationSplit(datasetId: string): Error {
  return new Error(
    `calibration needs a validation split of dataset ${datasetId}, and none is registered ` +
      `(register one of the same task named "${datasetId.replace(/-test$/, "")}-validation", see docs/datasets.md)`,
  );
}

/**
 * quality_delta (signed so higher is better) and compression_ratio against the baseline. The
 * speedup is not among them: it comes from the interleaved benchmark (benchmarkPair).
 */
export function deltas(task: JobSpec["dataset"]["task"], run: Record<string, number>, base: Record<string, number>): Record<string, number> {
  const out: Record<string, number> = {};
  const key = primaryMetric(task);
  if (Number.isFinite(run[key]) && Number.isFinite(base[key])) {
    out.quality_delta = key === "perplexity" ? base[key] - run[key] : run[key] - base[key];
  }
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
