import { eq } from "drizzle-orm";
import type { Tx } from "../../client";
import { runs } from "../../schema";
import { conflict, notFound } from "../../../lib/errors";
import type { WorkerRow } from "../workers";

/** A runs table row as drizzle selects it (the API's RunRecord is lib/schemas/runs.ts). */
export type RunRecord = typeof runs.$inferSelect;

/**
 * The run a lease-protocol write refers to, if `leaseToken` is its current fencing token and the
 * lease belongs to `worker`; otherwise a 409 (stale or foreign token) and nothing is written.
 * Canceled runs keep their lease token so the holder can learn of the cancel; `allowCanceled`
 * admits them (heartbeat), everything else answers 409.
 */
export function requireLease(runId: number, worker: WorkerRow, leaseToken: string, tx: Tx, allowCanceled = false): RunRecord {
  const run = tx.select().from(runs).where(eq(runs.id, runId)).get();
  if (!run) throw notFound(`run ${runId}`);
  if (run.leaseToken !== leaseToken || run.workerId !== worker.id) {
    throw conflict(`stale or foreign lease token: run ${runId} is not leased to this worker under that token (status ${run.status})`);
  }
  if (run.status === "canceled") {
    if (allowCanceled) return run;
    throw conflict(`run ${runId} was canceled`);
  }
  if (run.status !== "leased" && run.status !== "running") {
    throw conflict(`run ${runId} is ${run.status}, not leased`);
  }
  return run;
}
