/**
 * The contract between the worker's lease loop (which talks to the server) and the job executor
 * (which runs a method in a child process). Both sides import only these types.
 */

import type { CompleteBody, LeasedRun } from "../lib/schemas/workers";

export type { Runtime } from "../lib/domain";
export type { ArtifactRef, DatasetRef, HardwareFingerprint, ModelRef } from "../lib/schemas/workers";

/**
 * A leased run as the executor receives it: the lease's run fields (lib/schemas/workers.ts
 * LeasedRun; `calibration` is the validation split that calibration draws from instead of the
 * evaluated split, and `baseline` the metrics of the matching succeeded baseline when the server has
 * one), without the lease bookkeeping, which stays with the lease loop.
 */
export type JobSpec = Omit<LeasedRun, "attempt" | "maxAttempts" | "leaseToken" | "leaseExpiresAt" | "leaseMs"> & {
  /** A fresh directory the job may write artifacts into. */
  workDir: string;
  /** The worker's data dir (FRONTIER_DATA_DIR): shape models are generated into its cache on first use. */
  dataDir?: string;
};

/** What a job reports: the complete call's body without the lease token, which the lease loop adds. */
export type JobResult = Omit<CompleteBody, "leaseToken">;

export interface JobReporter {
  stage(name: string, progress?: number): void;
  progress(fraction: number): void;
  log(message: string, level?: "debug" | "info" | "warn" | "error"): void;
}
