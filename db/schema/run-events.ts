import { sqliteTable, text, integer, index } from "drizzle-orm/sqlite-core";
import { runs } from "./runs";

/** Log lines, progress and status changes of a run (level "status" marks a status transition). */
export const runEvents = sqliteTable(
  "run_events",
  {
    id: integer("id").primaryKey({ autoIncrement: true }),
    runId: integer("run_id")
      .notNull()
      .references(() => runs.id, { onDelete: "cascade" }),
    ts: integer("ts").notNull(),
    level: text("level", { enum: ["debug", "info", "warn", "error", "status"] }).notNull(),
    message: text("message").notNull(),
  },
  (t) => [index("run_events_run_ts").on(t.runId, t.ts)],
);
