import { eq } from "drizzle-orm";
import { getDb, type Db } from "../../client";
import { runEvents, runs } from "../../schema";
import type { z } from "zod";
import type { HeartbeatBody, HeartbeatResponse } from "../../../lib/schemas/workers";
import { touchWorker, type WorkerRow } from "../workers";
import { addRunEvent } from "./events";
import { leaseDurationMs } from "./config";
import { reapExpiredLeases } from "./reap-expired-leases";
import { requireLease } from "./lease-guard";

type ParsedHeartbeat = z.output<typeof HeartbeatBody>;

/**
 * Extends a lease and records what the job reported since the last beat. The first heartbeat moves
 * leased → running. A run canceled while leased answers `canceled: true` to its lease holder and
 * is otherwise left untouched.
 */
export function heartbeatRun(
  runId: number,
  worker: WorkerRow,
  body: ParsedHeartbeat,
  db: Db = getDb(),
  opts: { now?: number; leaseMs?: number } = {},
): HeartbeatResponse {
  const now = opts.now ?? Date.now();
  const leaseMs = opts.leaseMs ?? leaseDurationMs();
  return db.transaction(
    (tx) => {
      reapExpiredLeases(now, tx);
      const run = requireLease(runId, worker, body.leaseToken, tx, true);
      touchWorker(worker.id, tx, now);
      if (run.status === "canceled") return { canceled: true, leaseExpiresAt: run.leaseExpiresAt ?? now };

      const leaseExpiresAt = now + leaseMs;
      tx.update(runs)
        .set({
          status: "running",
          leaseExpiresAt,
          updatedAt: now,
          ...(body.stage !== undefined ? { stage: body.stage } : {}),
          ...(body.progress !== undefined ? { progress: body.progress } : {}),
        })
        .where(eq(runs.id, runId))
        .run();
      if (run.status === "leased") addRunEvent(runId, "status", `running on worker ${worker.name}`, tx, now);
      if (body.stage !== undefined && body.stage !== run.stage) addRunEvent(runId, "info", `stage ${body.stage}`, tx, now);
      if (body.logs.length > 0) {
        tx.insert(runEvents)
          .values(body.logs.map((l) => ({ runId, level: l.level, message: l.message, ts: Math.min(l.ts ?? now, now) })))
          .run();
      }
      return { canceled: false, leaseExpiresAt };
    },
    { behavior: "immediate" },
  );
}
