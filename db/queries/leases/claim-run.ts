import crypto from "node:crypto";
import path from "node:path";
import { and, asc, eq, inArray, isNull, lte, or, sql } from "drizzle-orm";
import { getDb, type Db, type Tx } from "../../client";
import { datasets, models, runs } from "../../schema";
import type { HardwareFingerprint, LeasedRun } from "../../../lib/schemas/workers";
import type { Runtime } from "../../../lib/domain";
import { touchWorker, workerHardwareKey, type WorkerRow } from "../workers";
import { addRunEvent } from "./events";
import type { RunRecord } from "./lease-guard";
import { leaseDurationMs } from "./config";
import { reapExpiredLeases } from "./reap-expired-leases";
import { baselineFor } from "./baseline-for";
import { baselineKeyOf } from "../../../lib/baseline";
import { getMethod } from "../../../lib/methods";

/** Model and dataset paths stored relative to the server's root become absolute for the worker. */
const absolute = (root: string, p: string) => (path.isAbsolute(p) ? p : path.resolve(root, p));

function resolveModel(run: RunRecord, root: string, tx: Tx): LeasedRun["model"] | string {
  const m = tx.select().from(models).where(eq(models.id, run.modelId)).get();
  if (!m) return `model ${run.modelId} is not registered`;
  const files = { ...m.files };
  if (files.dir !== undefined) files.dir = absolute(root, files.dir);
  else for (const [k, v] of Object.entries(files)) files[k] = absolute(root, v);
  return { id: m.id, kind: m.kind, source: m.source, files, sha256: m.sha256, card: m.card ?? null };
}

/** The other registered models the run's params name (a speculative draft_model), or why one cannot be sent. */
function paramModels(run: RunRecord, root: string, tx: Tx): LeasedRun["model"][] | string {
  const method = getMethod(run.methodId);
  const parsed = method?.params.safeParse(run.params);
  const ids = parsed?.success ? (method?.models?.(parsed.data) ?? []) : [];
  const out: LeasedRun["model"][] = [];
  for (const id of new Set(ids)) {
    const m = resolveModel({ ...run, modelId: id }, root, tx);
    if (typeof m === "string") return m;
    out.push(m);
  }
  return out;
}

type DatasetRow = typeof datasets.$inferSelect;

const datasetRef = (d: DatasetRow, root: string): LeasedRun["dataset"] => ({ id: d.id, task: d.task, file: absolute(root, d.file), sha256: d.sha256 });

function resolveDataset(run: RunRecord, tx: Tx): DatasetRow | string {
  const d = tx.select().from(datasets).where(eq(datasets.id, run.datasetId)).get();
  if (!d) return `dataset ${run.datasetId} is not registered`;
  return d;
}

/** `s` without a trailing split marker: "grammar-mc (test)" and "grammar-mc-test" both give "grammar-mc". */
function stripSplit(s: string, split: string | null): string {
  if (!split) return s.trim();
  const lower = s.toLowerCase();
  const tag = split.toLowerCase();
  for (const suffix of [` (${tag})`, `(${tag})`, `-${tag}`, `_${tag}`, `.${tag}`]) {
    if (lower.endsWith(suffix)) return s.slice(0, s.length - suffix.length).trim();
  }
  return s.trim();
}

/**
 * The registered validation split of `d`: a dataset with split "validation" and the same task whose
 * name or id, with its split marker removed, equals `d`'s. Registration names the pair that way
 * (the zoo's "grammar-mc (test)" / "grammar-mc (validation)", ids grammar-mc-test /
 * grammar-mc-validation), and nothing else links two splits. A run on a validation split gets
 * none: its own unscored examples are the only ones it may calibrate on.
 */
export function validationSplitOf(d: DatasetRow, tx: Tx = getDb()): DatasetRow | null {
  if (d.split?.toLowerCase() === "validation") return null;
  const name = stripSplit(d.name, d.split);
  const id = stripSplit(d.id, d.split);
  const candidates = tx
    .select()
    .from(datasets)
    .where(and(sql`lower(${datasets.split}) = 'validation'`, eq(datasets.task, d.task)))
    .orderBy(asc(datasets.id))
    .all();
  const sameName = candidates.find((c) => c.id !== d.id && name !== "" && stripSplit(c.name, c.split) === name);
  return sameName ?? candidates.find((c) => c.id !== d.id && id !== "" && stripSplit(c.id, c.split) === id) ?? null;
}

export interface ClaimOptions {
  now?: number;
  leaseMs?: number;
  /** Directory relative model and dataset paths are resolved against (the server's working directory). */
  root?: string;
}

/**
 * Leases the oldest available queued run on one of `runtimes` to `worker`, or returns null.
 * SQLite has no SKIP LOCKED, so the claim is one UPDATE … WHERE id = (SELECT … LIMIT 1) RETURNING *
 * inside an immediate transaction: two workers can never take the same run. Expired leases are
 * reaped first. A run whose model or dataset is not registered cannot execute anywhere and is
 * failed on the spot instead of being handed out.
 */
export function claimRun(worker: WorkerRow, runtimes: Runtime[], db: Db = getDb(), opts: ClaimOptions = {}): LeasedRun | null {
  const now = opts.now ?? Date.now();
  const leaseMs = opts.leaseMs ?? leaseDurationMs();
  const root = opts.root ?? process.cwd();
  if (runtimes.length === 0) return null;
  return db.transaction(
    (tx) => {
      reapExpiredLeases(now, tx);
      // An idle worker polling for work is alive too.
      touchWorker(worker.id, tx, now);
      for (;;) {
        const next = tx
          .select({ id: runs.id })
          .from(runs)
          .where(
            and(
              eq(runs.status, "queued"),
              inArray(runs.runtime, runtimes),
              // Benchmark databases hold synthetic rows; they are never real work.
              eq(runs.synthetic, false),
              or(isNull(runs.availableAt), lte(runs.availableAt, now)),
            ),
          )
          .orderBy(asc(runs.id))
          .limit(1);
        const leaseToken = crypto.randomBytes(24).toString("base64url");
        const run = tx
          .update(runs)
          .set({
            status: "leased",
            leaseToken,
            leaseExpiresAt: now + leaseMs,
            workerId: worker.id,
            attempts: sql`${runs.attempts} + 1`,
            startedAt: sql`coalesce(${runs.startedAt}, ${now})`,
            seed: sql`coalesce(${runs.seed}, 0)`,
            stage: null,
            progress: null,
            updatedAt: now,
          })
          .where(eq(runs.id, next))
          .returning()
          .get();
        if (!run) return null;

        const model = resolveModel(run, root, tx);
        const dataset = resolveDataset(run, tx);
        const named = paramModels(run, root, tx);
        if (typeof model === "string" || typeof dataset === "string" || typeof named === "string") {
          const error = [model, dataset, named].filter((x): x is string => typeof x === "string").join("; ");
          tx.update(runs)
            .set({ status: "failed", error, leaseToken: null, leaseExpiresAt: null, finishedAt: now, updatedAt: now })
            .where(eq(runs.id, run.id))
            .run();
          addRunEvent(run.id, "status", `failed: ${error}`, tx, now);
          continue;
        }

        const validation = validationSplitOf(dataset, tx);
        const runtime = run.runtime as Runtime;
        const hwKey = workerHardwareKey(worker, runtime);
        const fingerprint = (worker.hardware as Partial<Record<Runtime, HardwareFingerprint>> | null)?.[runtime];
        // The evaluation settings are the worker's; it compares them with the baseline's metrics and
        // measures a fresh baseline when they differ (workers/execute.ts).
        const baseline = hwKey ? baselineFor(baselineKeyOf(run, { hardwareKey: hwKey, ortVersion: fingerprint?.ortVersion ?? null }), tx) : null;
        addRunEvent(run.id, "status", `leased by worker ${worker.name} (attempt ${run.attempts} of ${run.maxAttempts})`, tx, now);
        return {
          runId: run.id,
          methodId: run.methodId,
          params: run.params,
          model,
          dataset: datasetRef(dataset, root),
          calibration: validation ? datasetRef(validation, root) : null,
          ...(named.length > 0 ? { models: named } : {}),
          runtime,
          seed: run.seed ?? 0,
          baseline,
          attempt: run.attempts,
          maxAttempts: run.maxAttempts,
          leaseToken,
          leaseExpiresAt: now + leaseMs,
          leaseMs,
        };
      }
    },
    { behavior: "immediate" },
  );
}
