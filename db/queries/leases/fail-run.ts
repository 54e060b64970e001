import { eq } from "drizzle-orm";
import { getDb, type Db } from "../../client";
import { runs } from "../../schema";
import type { FailBody, FailResponse } from "../../../lib/schemas/workers";
import { touchWorker, type WorkerRow } from "../workers";
import { addRunEvent } from "./events";
import { retryDelayMs } from "./config";
import { reapExpiredLeases } from "./reap-expired-leases";
import { requireLease } from "./lease-guard";

/**
 * Ends the current attempt with an error. A retryable error with attempts left returns the run to
 * the queue after a backoff; otherwise the run fails with the error.
 */
export function failRun(runId: number, worker: WorkerRow, body: FailBody, db: Db = getDb(), opts: { now?: number } = {}): FailResponse {
  const now = opts.now ?? Date.now();
  return db.transaction(
    (tx) => {
      reapExpiredLeases(now, tx);
      const run = requireLease(runId, worker, body.leaseToken, tx);
      touchWorker(worker.id, tx, now);
      const attemptNote = `attempt ${run.attempts} of ${run.maxAttempts}`;
      if (body.retryable && run.attempts < run.maxAttempts) {
        const availableAt = now + retryDelayMs(run.attempts);
        tx.update(runs)
          .set({
            status: "queued",
            error: body.error,
            leaseToken: null,
            leaseExpiresAt: null,
            workerId: null,
            availableAt,
            stage: null,
            progress: null,
            updatedAt: now,
          })
          .where(eq(runs.id, runId))
          .run();
        addRunEvent(runId, "status", `queued: ${attemptNote} failed on worker ${worker.name}: ${body.error}; retry in ${availableAt - now} ms`, tx, now);
        return { status: "queued", attempts: run.attempts, maxAttempts: run.maxAttempts, availableAt };
      }
      const why = body.retryable ? `no attempts left (${attemptNote})` : `not retryable (${attemptNote})`;
      tx.update(runs)
        .set({ status: "failed", error: body.error, leaseToken: null, leaseExpiresAt: null, finishedAt: now, updatedAt: now })
        .where(eq(runs.id, runId))
        .run();
      addRunEvent(runId, "status", `failed on worker ${worker.name}, ${why}: ${body.error}`, tx, now);
      return { status: "failed", attempts: run.attempts, maxAttempts: run.maxAttempts, availableAt: null };
    },
    { behavior: "immediate" },
  );
}
