import { sqliteTable, text, integer, real, primaryKey, index } from "drizzle-orm/sqlite-core";
import { runs } from "./runs";

/**
 * One summary metric of a run; indexed for filter, sort and Pareto queries. The table is WITHOUT
 * ROWID (migration 0001), which drizzle-kit does not model: a migration that rebuilds it must keep that.
 */
export const runMetrics = sqliteTable(
  "run_metrics",
  {
    runId: integer("run_id")
      .notNull()
      .references(() => runs.id, { onDelete: "cascade" }),
    key: text("key").notNull(),
    value: real("value").notNull(),
  },
  (t) => [primaryKey({ columns: [t.runId, t.key] }), index("run_metrics_key_value").on(t.key, t.value, t.runId)],
);
