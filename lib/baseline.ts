import { evalSettingsOf, type EvalSettingKey } from "./metrics";

/** What a baseline run must share with the run it is the reference of (DESIGN.md: compare like with like). */
export interface BaselineKey {
  modelId: string;
  datasetId: string;
  runtime: string;
  hardwareKey: string;
  /** The run's seed: it orders the scored examples and draws the benchmark prompt. */
  seed: number | null;
  /** onnxruntime version (the hardware fingerprint's ortVersion) the figures were measured with. */
  ortVersion: string | null;
  /**
   * Evaluation settings (lib/metrics EVAL_SETTING_KEYS, stored as run metrics) the baseline must
   * have been measured with; a key given as undefined must be absent on the baseline too. Left out
   * entirely when the asker does not know them yet (at lease time the worker checks them itself).
   */
  settings?: Partial<Record<EvalSettingKey, number>>;
  /** The run asking, never its own baseline. */
  excludeRunId?: number;
}

/** A baseline run is its own reference: only compressed runs are paired with one. */
export const needsBaseline = (methodId: string) => methodId !== "baseline";

/**
 * The key of `run`'s baseline on the hardware it runs on. At lease time only the worker's registered
 * fingerprint is known; at completion the measured metrics add the evaluation settings.
 */
export function baselineKeyOf(
  run: { id: number; modelId: string; datasetId: string; runtime: string; seed: number | null },
  measured: { hardwareKey: string; ortVersion: string | null; metrics?: Readonly<Record<string, number>> },
): BaselineKey {
  return {
    modelId: run.modelId,
    datasetId: run.datasetId,
    runtime: run.runtime,
    hardwareKey: measured.hardwareKey,
    seed: run.seed,
    ortVersion: measured.ortVersion,
    ...(measured.metrics ? { settings: evalSettingsOf(measured.metrics) } : {}),
    excludeRunId: run.id,
  };
}
