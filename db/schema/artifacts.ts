import { sqliteTable, text, integer, index } from "drizzle-orm/sqlite-core";
import { createdAt } from "./util";
import { runs } from "./runs";

/** A file a run produced (quantized model, training curve, log). */
export const artifacts = sqliteTable(
  "artifacts",
  {
    id: integer("id").primaryKey({ autoIncrement: true }),
    runId: integer("run_id")
      .notNull()
      .references(() => runs.id, { onDelete: "cascade" }),
    kind: text("kind").notNull(),
    path: text("path").notNull(),
    bytes: integer("bytes"),
    sha256: text("sha256"),
    createdAt: createdAt(),
  },
  (t) => [index("artifacts_run").on(t.runId)],
);
