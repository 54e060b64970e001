import { sqliteTable, text, integer, real, index } from "drizzle-orm/sqlite-core";
import { RUN_SOURCES, RUN_STATUSES } from "../../lib/domain";
import { createdAt, ms } from "./util";
import { experiments } from "./experiments";

/**
 * One execution of a method with one parameter point. Model and dataset are plain ids (not
 * foreign keys) because runs logged from outside scripts may name models Frontier never stored.
 */
export const runs = sqliteTable(
  "runs",
  {
    id: integer("id").primaryKey({ autoIncrement: true }),
    experimentId: integer("experiment_id").references(() => experiments.id),
    methodId: text("method_id").notNull(),
    family: text("family").notNull(),
    params: text("params", { mode: "json" }).$type<Record<string, unknown>>().notNull(),
    modelId: text("model_id").notNull(),
    datasetId: text("dataset_id").notNull(),
    runtime: text("runtime").notNull(),
    /** Short, human-readable hardware label used for grouping, e.g. "cpu · AMD EPYC 7B13 ×2". */
    hardwareKey: text("hardware_key"),
    hardware: text("hardware", { mode: "json" }).$type<Record<string, unknown>>(),
    status: text("status", { enum: RUN_STATUSES }).notNull().default("queued"),
    stage: text("stage"),
    progress: real("progress"),
    attempts: integer("attempts").notNull().default(0),
    maxAttempts: integer("max_attempts").notNull().default(3),
    leaseToken: text("lease_token"),
    leaseExpiresAt: ms("lease_expires_at"),
    /** A queued run is not leased before this time (retry backoff). */
    availableAt: ms("available_at"),
    workerId: text("worker_id"),
    error: text("error"),
    baselineRunId: integer("baseline_run_id"),
    codeVersion: text("code_version"),
    seed: integer("seed"),
    tags: text("tags", { mode: "json" })
      .$type<string[]>()
      .notNull()
      .$defaultFn(() => []),
    notes: text("notes"),
    source: text("source", { enum: RUN_SOURCES }).notNull().default("executed"),
    /** Synthetic rows exist only in benchmark databases and are never shown as real results. */
    synthetic: integer("synthetic", { mode: "boolean" }).notNull().default(false),
    createdAt: createdAt(),
    startedAt: ms("started_at"),
    finishedAt: ms("finished_at"),
    updatedAt: ms("updated_at"),
  },
  (t) => [
    index("runs_status_available").on(t.status, t.availableAt),
    // Expired leases are reaped before the run list, run page and experiment page are read: a range
    // seek per active status that finds nothing when no lease expired.
    index("runs_status_lease").on(t.status, t.leaseExpiresAt),
    index("runs_experiment").on(t.experimentId),
    // (group column, synthetic): covering for counts and for the Pareto scan, which reads run ids
    // in (group, id) order with synthetic = 0 (docs/BENCHMARKS.md, Tracker).
    index("runs_method_synthetic").on(t.methodId, t.synthetic),
    index("runs_family_synthetic").on(t.family, t.synthetic),
    index("runs_runtime_synthetic").on(t.runtime, t.synthetic),
    index("runs_hardware_synthetic").on(t.hardwareKey, t.synthetic),
    // The comparison context (model, dataset, runtime, hardware) and what the explorer filters it
    // by: listing contexts is an index scan in group order, and a Pareto pass over one context
    // seeks its rows instead of scanning every run (db/queries/pareto.ts).
    index("runs_context").on(t.modelId, t.datasetId, t.runtime, t.hardwareKey, t.synthetic, t.status, t.createdAt),
    index("runs_created").on(t.createdAt),
  ],
);
