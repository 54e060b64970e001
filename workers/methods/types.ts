/**
 * The executor interface every method module implements (workers/methods/<family>/<method>.ts).
 *
 * A module default-exports a `MethodExecutor`; workers/methods/index.ts maps the registry id
 * (lib/methods) to a lazy import of it. `executeJob` (workers/execute.ts) validates the params with
 * the registry's zod schema, builds a `MethodContext` and calls `run` once, then:
 *  - weight-transforming methods (quantization, pruning) write a new ONNX model under ctx.workDir and
 *    return its path as `modelPath`; the pipeline then evaluates quality and benchmarks it like the
 *    baseline, and adds model_bytes/compression_ratio/speedup/quality_delta itself;
 *  - decoding-time methods (token compression, speculative decoding) leave `modelPath` unset, drive
 *    a decoder from `ctx.openDecoder` themselves and return their quality and latency metrics; set
 *    `measured` to say which pipeline stages they replaced.
 * Method-specific metrics (bits_effective, sparsity, kept_token_ratio, acceptance_rate, ...) go in
 * `metrics` under the keys of lib/metrics. Nothing may be simulated: an executor that cannot do
 * what was asked throws an Error naming what is wrong.
 */
import type { ArtifactRef, DatasetRef, JobReporter, ModelRef, Runtime } from "../types";
import type { BenchmarkOptions, Decoder, DecoderShape, MeasuredMetrics, TextTokenizer } from "../eval/types";

export interface MethodContext {
  runId: number;
  model: ModelRef;
  /** Absolute path of the unmodified model's .onnx file. */
  modelPath: string;
  dataset: DatasetRef;
  runtime: Runtime;
  /** A fresh directory for the compressed model and other artifacts. */
  workDir: string;
  seed: number;
  /** Deterministic uniform [0, 1) generator seeded with `seed`. */
  rng: () => number;
  reporter: JobReporter;
  /** Null for shape-only models and models registered without a tokenizer. */
  tokenizer: TextTokenizer | null;
  /** Dimensions of the base model. */
  shape: DecoderShape;
  /** True when the model has random weights (benchmarking only: no quality metric). */
  shapeOnly: boolean;
  /** Opens a decoder session on `modelPath` (default: the base model) on the job's runtime. */
  openDecoder(modelPath?: string): Promise<Decoder>;
  /** Quality metrics of a model on the job's dataset (empty with a note for shape-only models). */
  evaluateQuality(modelPath: string): Promise<MeasuredMetrics>;
  /** Latency and memory metrics of a model on the job's runtime. */
  benchmark(modelPath: string, options?: Partial<BenchmarkOptions>): Promise<MeasuredMetrics>;
  /**
   * Up to `n` token sequences of `seqLen` tokens for calibration, drawn (seeded) from the
   * validation split the lease names, else from dataset examples the quality evaluation does not
   * score. Short text gives fewer sequences (or one shorter one, at least 16 tokens) with a warning;
   * throws only when not even that can be formed.
   */
  calibrationBatches(n: number, seqLen: number): Promise<number[][]>;
  /**
   * Another registered model the run's params name (a speculative draft), as the lease carried it:
   * its files resolved and checked like the base model's. Throws when the lease has no model `id`.
   */
  paramModel(id: string): Promise<ParamModel>;
}

/** A model named by a run's params, resolved on this worker. */
export interface ParamModel {
  id: string;
  modelPath: string;
  tokenizerPath: string | null;
  shapeOnly: boolean;
  /** Opens a decoder session on it, on the job's runtime. */
  open(): Promise<Decoder>;
}

export interface MethodResult {
  /** The transformed model, when the method rewrote weights. */
  modelPath?: string;
  metrics: Record<string, number>;
  artifacts: ArtifactRef[];
  notes: string[];
  /** Stages the method measured itself, so the pipeline does not redo them on `modelPath`. */
  measured?: { quality?: boolean; speed?: boolean };
}

export interface MethodExecutor<P = Record<string, unknown>> {
  id: string;
  run(ctx: MethodContext, params: P): Promise<MethodResult>;
}

export const defineExecutor = <P>(e: MethodExecutor<P>): MethodExecutor<P> => e;
