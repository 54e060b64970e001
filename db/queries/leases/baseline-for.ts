import { and, desc, eq, ne, sql, type SQL } from "drizzle-orm";
import { getDb, type Tx } from "../../client";
import { runMetrics, runs } from "../../schema";
import { EVAL_SETTING_KEYS } from "../../../lib/metrics";
import type { BaselineKey } from "../../../lib/baseline";

export type { BaselineKey };

/** `metric(key) IS value` for the candidate run (IS: an absent metric matches only an absent value). */
const metricIs = (key: string, value: number | undefined): SQL =>
  sql`(select ${runMetrics.value} from ${runMetrics} where ${runMetrics.runId} = ${runs.id} and ${runMetrics.key} = ${key}) is ${value ?? null}`;

/**
 * The latest succeeded baseline run measured like the asking run: same model, dataset, runtime,
 * hardware_key, seed, onnxruntime version and (when given) evaluation settings; with its metrics.
 * Null when there is none, so the job measures a fresh baseline rather than lean on a stale one.
 */
export function baselineFor(key: BaselineKey, tx: Tx = getDb()): { runId: number; metrics: Record<string, number> } | null {
  const settings = key.settings;
  const row = tx
    .select({ id: runs.id })
    .from(runs)
    .where(
      and(
        eq(runs.methodId, "baseline"),
        eq(runs.status, "succeeded"),
        eq(runs.synthetic, false),
        eq(runs.modelId, key.modelId),
        eq(runs.datasetId, key.datasetId),
        eq(runs.runtime, key.runtime),
        eq(runs.hardwareKey, key.hardwareKey),
        sql`${runs.seed} is ${key.seed}`,
        sql`json_extract(${runs.hardware}, '$.ortVersion') is ${key.ortVersion}`,
        ...(settings ? EVAL_SETTING_KEYS.map((k) => metricIs(k, settings[k])) : []),
        key.excludeRunId === undefined ? undefined : ne(runs.id, key.excludeRunId),
      ),
    )
    .orderBy(desc(runs.finishedAt), desc(runs.id))
    .limit(1)
    .get();
  if (!row) return null;
  const metrics: Record<string, number> = {};
  for (const m of tx.select().from(runMetrics).where(eq(runMetrics.runId, row.id)).all()) metrics[m.key] = m.value;
  return { runId: row.id, metrics };
}
