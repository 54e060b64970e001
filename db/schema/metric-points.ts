import { sqliteTable, text, integer, real, index } from "drizzle-orm/sqlite-core";
import { runs } from "./runs";

/** Time series (training curves, per-step latencies); ingested in batches. */
export const metricPoints = sqliteTable(
  "metric_points",
  {
    runId: integer("run_id")
      .notNull()
      .references(() => runs.id, { onDelete: "cascade" }),
    key: text("key").notNull(),
    step: integer("step").notNull(),
    value: real("value").notNull(),
    ts: integer("ts").notNull(),
  },
  (t) => [index("metric_points_run_key_step").on(t.runId, t.key, t.step)],
);
