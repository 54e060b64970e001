import { sqliteTable, text, integer, primaryKey } from "drizzle-orm/sqlite-core";
import { runs } from "./runs";

/**
 * The idempotency keys (`batchId`) of the metric-point batches a run has stored: a retried batch
 * with a key already here stores nothing again and answers the count the first one stored.
 */
export const metricBatches = sqliteTable(
  "metric_batches",
  {
    runId: integer("run_id")
      .notNull()
      .references(() => runs.id, { onDelete: "cascade" }),
    batchId: text("batch_id").notNull(),
    inserted: integer("inserted").notNull(),
    createdAt: integer("created_at").notNull(),
  },
  (t) => [primaryKey({ columns: [t.runId, t.batchId] })],
);

/** One row /api/v1/health rewrites to prove the database takes writes. */
export const healthProbe = sqliteTable("health_probe", {
  id: integer("id").primaryKey(),
  checkedAt: integer("checked_at").notNull(),
});
