/**
 * The contract between the worker's lease loop (which talks to the server) and the job executor
 * (which runs a method in a child process). Both sides import only these types.
 */

export type Runtime = "cpu" | "webgpu" | "wasm" | "browser";

export interface ModelRef {
  id: string;
  kind: "decoder-lm" | "classifier";
  source: "zoo" | "path" | "upload" | "shape";
  /** Absolute directory plus file names, e.g. { dir, model: "model.onnx", tokenizer: "tokenizer.json" }. */
  files: Record<string, string>;
  sha256: string | null;
  card: Record<string, unknown> | null;
}

export interface DatasetRef {
  id: string;
  task: "perplexity" | "exact-match" | "multiple-choice" | "recall";
  /** Absolute path of the JSONL file (docs/datasets.md). */
  file: string;
  sha256: string | null;
}

export interface JobSpec {
  runId: number;
  methodId: string;
  params: Record<string, unknown>;
  model: ModelRef;
  dataset: DatasetRef;
  /**
   * The validation split registered for `dataset`: calibration (GPTQ, AWQ, ...) draws from it
   * instead of the evaluated split. Absent or null when there is none.
   */
  calibration?: DatasetRef | null;
  runtime: Runtime;
  seed: number;
  /** A fresh directory the job may write artifacts into. */
  workDir: string;
  /** The worker's data dir (FRONTIER_DATA_DIR): shape models are generated into its cache on first use. */
  dataDir?: string;
  /**
   * Metrics of the latest succeeded baseline matching (model, dataset, runtime, hardware key, seed,
   * onnxruntime version), when the server has one; the job checks the evaluation settings itself.
   */
  baseline: { runId: number; metrics: Record<string, number> } | null;
}

export type { HardwareFingerprint } from "../lib/schemas/workers";
import type { HardwareFingerprint } from "../lib/schemas/workers";

export interface ArtifactRef {
  kind: string;
  path: string;
  bytes: number;
  sha256: string;
}

export interface JobResult {
  metrics: Record<string, number>;
  hardware: HardwareFingerprint;
  artifacts: ArtifactRef[];
  /** Present when the job had no baseline from the server and measured the unmodified model itself. */
  baselineMetrics?: Record<string, number>;
  /** Human-readable notes stored as run events (e.g. "shape-only model: no quality metric"). */
  notes: string[];
}

export interface JobReporter {
  stage(name: string, progress?: number): void;
  progress(fraction: number): void;
  log(message: string, level?: "debug" | "info" | "warn" | "error"): void;
}
