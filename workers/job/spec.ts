import fs from "node:fs";
import type { JobSpec } from "../types";

/** The run fields a job needs: a lease's, or a benchmark's own (calibration may be left out). */
export type JobRun = Omit<JobSpec, "workDir" | "dataDir" | "calibration"> & { calibration?: JobSpec["calibration"] };

/**
 * Empties (or creates) `workDir` and returns the spec that runs `run` there. Only the run fields
 * are copied, so a lease's bookkeeping (its token, attempt counts) never reaches the job.
 */
export function jobSpecIn(run: JobRun, workDir: string, dataDir: string): JobSpec {
  fs.rmSync(workDir, { recursive: true, force: true });
  fs.mkdirSync(workDir, { recursive: true });
  return {
    runId: run.runId,
    methodId: run.methodId,
    params: run.params,
    model: run.model,
    dataset: run.dataset,
    calibration: run.calibration ?? null,
    ...(run.models?.length ? { models: run.models } : {}),
    runtime: run.runtime,
    seed: run.seed,
    workDir,
    dataDir,
    baseline: run.baseline,
  };
}
