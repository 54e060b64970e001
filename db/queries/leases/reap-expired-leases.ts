import { and, eq, inArray, lt } from "drizzle-orm";
import { getDb, type Tx } from "../../client";
import { runs, workers } from "../../schema";
import { addRunEvent } from "./events";
import { retryDelayMs } from "./config";

/**
 * Returns every leased or running run whose lease expired before `now` to the queue (with retry
 * backoff), or fails it when its attempts are used up. Called at the start of every lease-protocol
 * write, so an expired lease is dead everywhere even if no other worker has asked for work yet.
 */
export function reapExpiredLeases(now = Date.now(), tx: Tx = getDb()): { requeued: number; failed: number } {
  const expired = tx
    .select({ id: runs.id, attempts: runs.attempts, maxAttempts: runs.maxAttempts, workerName: workers.name, workerId: runs.workerId })
    .from(runs)
    .leftJoin(workers, eq(workers.id, runs.workerId))
    .where(and(inArray(runs.status, ["leased", "running"]), lt(runs.leaseExpiresAt, now)))
    .all();
  let requeued = 0;
  let failed = 0;
  for (const r of expired) {
    const who = r.workerName ? `worker ${r.workerName}` : `worker ${r.workerId ?? "(unknown)"}`;
    const stillExpired = and(eq(runs.id, r.id), inArray(runs.status, ["leased", "running"]), lt(runs.leaseExpiresAt, now));
    if (r.attempts >= r.maxAttempts) {
      const error = `lease expired on attempt ${r.attempts} of ${r.maxAttempts}, no attempts left; last ${who} stopped heartbeating`;
      tx.update(runs).set({ status: "failed", error, leaseToken: null, leaseExpiresAt: null, finishedAt: now, updatedAt: now }).where(stillExpired).run();
      addRunEvent(r.id, "status", `failed: ${error}`, tx, now);
      failed++;
    } else {
      const delay = retryDelayMs(r.attempts);
      const error = `lease expired on attempt ${r.attempts} of ${r.maxAttempts}: ${who} stopped heartbeating`;
      tx.update(runs)
        .set({
          status: "queued",
          leaseToken: null,
          leaseExpiresAt: null,
          workerId: null,
          availableAt: now + delay,
          error,
          stage: null,
          progress: null,
          updatedAt: now,
        })
        .where(stillExpired)
        .run();
      addRunEvent(r.id, "status", `queued: ${error}; retry in ${delay} ms`, tx, now);
      requeued++;
    }
  }
  return { requeued, failed };
}
