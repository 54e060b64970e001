import { and, desc, eq, ne } from "drizzle-orm";
import type { Tx } from "../../client";
import { runMetrics, runs } from "../../schema";

export interface BaselineKey {
  modelId: string;
  datasetId: string;
  runtime: string;
  hardwareKey: string;
  /** The run asking, never its own baseline. */
  excludeRunId?: number;
}

/** The latest succeeded baseline run for (model, dataset, runtime, hardware_key) with its metrics. */
export function baselineFor(tx: Tx, key: BaselineKey): { runId: number; metrics: Record<string, number> } | null {
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
