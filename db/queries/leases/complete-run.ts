import { eq, sql } from "drizzle-orm";
import type { z } from "zod";
import { getDb, type Db, type Tx } from "../../client";
import { artifacts, runMetrics, runs } from "../../schema";
import type { CompleteBody, CompleteResponse } from "../../../lib/schemas/workers";
import { hardwareKey } from "../../../lib/hardware";
import { invalid } from "../../../lib/errors";
import { touchWorker, type WorkerRow } from "../workers";
import { addRunEvent } from "./events";
import { reapExpiredLeases } from "./reap-expired-leases";
import { requireLease, type RunRecord } from "./lease-guard";
import { baselineFor } from "./baseline-for";
import { baselineKeyOf, needsBaseline } from "../../../lib/baseline";

type ParsedComplete = z.output<typeof CompleteBody>;

function writeMetrics(runId: number, metrics: Record<string, number>, tx: Tx): void {
  const rows = Object.entries(metrics).map(([key, value]) => ({ runId, key, value }));
  if (rows.length === 0) return;
  tx.insert(runMetrics)
    .values(rows)
    .onConflictDoUpdate({ target: [runMetrics.runId, runMetrics.key], set: { value: sql`excluded.value` } })
    .run();
}

/**
 * The job measured the unmodified model itself (the lease carried no baseline): store that as a
 * standalone succeeded baseline run, tagged auto-baseline, that later leases on the same hardware reuse.
 */
function insertAutoBaseline(run: RunRecord, body: ParsedComplete, hwKey: string, worker: WorkerRow, tx: Tx, now: number): number {
  const inserted = tx
    .insert(runs)
    .values({
      methodId: "baseline",
      family: "baseline",
      params: {},
      modelId: run.modelId,
      datasetId: run.datasetId,
      runtime: run.runtime,
      hardware: body.hardware,
      hardwareKey: hwKey,
      status: "succeeded",
      attempts: 1,
      maxAttempts: 1,
      workerId: worker.id,
      codeVersion: run.codeVersion,
      seed: run.seed,
      tags: ["auto-baseline"],
      notes: `measured by worker ${worker.name} alongside run ${run.id}`,
      source: "executed",
      createdAt: now,
      startedAt: run.startedAt,
      finishedAt: now,
      updatedAt: now,
    })
    .returning({ id: runs.id })
    .get();
  writeMetrics(inserted.id, body.baselineMetrics ?? {}, tx);
  addRunEvent(inserted.id, "status", `succeeded: baseline measured alongside run ${run.id}`, tx, now);
  return inserted.id;
}

/**
 * Records a finished job: metrics, artifacts, hardware, the baseline it is compared with, and the
 * succeeded status, all in one transaction.
 */
export function completeRun(runId: number, worker: WorkerRow, body: ParsedComplete, db: Db = getDb(), opts: { now?: number } = {}): CompleteResponse {
  const now = opts.now ?? Date.now();
  return db.transaction(
    (tx) => {
      reapExpiredLeases(now, tx);
      const run = requireLease(runId, worker, body.leaseToken, tx);
      if (body.hardware.runtime !== run.runtime) {
        throw invalid(`hardware is for runtime ${body.hardware.runtime}, but run ${runId} runs on ${run.runtime}`, [
          { field: "hardware.runtime", message: `expected ${run.runtime}` },
        ]);
      }
      touchWorker(worker.id, tx, now);
      const hwKey = hardwareKey(body.hardware);

      let baselineRunId: number | null = null;
      if (needsBaseline(run.methodId)) {
        if (body.baselineMetrics) baselineRunId = insertAutoBaseline(run, body, hwKey, worker, tx, now);
        else {
          const key = baselineKeyOf(run, { hardwareKey: hwKey, ortVersion: body.hardware.ortVersion, metrics: body.metrics });
          baselineRunId = baselineFor(key, tx)?.runId ?? null;
        }
      }

      writeMetrics(runId, body.metrics, tx);
      if (body.artifacts.length > 0) {
        tx.insert(artifacts)
          .values(body.artifacts.map((a) => ({ runId, kind: a.kind, path: a.path, bytes: a.bytes, sha256: a.sha256, createdAt: now })))
          .run();
      }
      tx.update(runs)
        .set({
          status: "succeeded",
          hardware: body.hardware,
          hardwareKey: hwKey,
          baselineRunId,
          error: null,
          progress: 1,
          leaseExpiresAt: null,
          finishedAt: now,
          updatedAt: now,
        })
        .where(eq(runs.id, runId))
        .run();
      for (const note of body.notes) addRunEvent(runId, "info", note, tx, now);
      if (!needsBaseline(run.methodId) && body.baselineMetrics) {
        addRunEvent(runId, "info", "baselineMetrics ignored: this run is itself the baseline", tx, now);
      }
      addRunEvent(runId, "status", `succeeded on worker ${worker.name} (${hwKey})`, tx, now);
      return { status: "succeeded", baselineRunId };
    },
    { behavior: "immediate" },
  );
}
