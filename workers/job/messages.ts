/** IPC messages between the worker (supervisor) and a job's child process. */
import type { EngineOptions } from "../execute";
import type { JobResult, JobSpec } from "../types";

export type LogLevel = "debug" | "info" | "warn" | "error";

/** `engine`: evaluation settings the operator chose for this worker (e.g. more benchmark repeats). */
export type ParentMessage = { type: "run"; spec: JobSpec; engine?: Partial<EngineOptions> };

export type ChildMessage =
  /** The child has loaded the executor and waits for its one job. */
  | { type: "ready"; pid: number }
  | { type: "stage"; name: string; progress?: number }
  | { type: "progress"; fraction: number }
  | { type: "log"; level: LogLevel; message: string; ts: number }
  /** `executeMs`: wall time inside executeJob, so the worker can measure its own overhead. */
  | { type: "result"; result: JobResult; executeMs: number }
  | { type: "error"; message: string; retryable: boolean; executeMs: number };
