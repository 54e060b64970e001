import { sqliteTable, text, integer } from "drizzle-orm/sqlite-core";
import { DATASET_TASKS } from "../../lib/domain";
import { createdAt } from "./util";

/** An evaluation dataset (JSONL file) with its task type. */
export const datasets = sqliteTable("datasets", {
  id: text("id").primaryKey(),
  name: text("name").notNull(),
  task: text("task", { enum: DATASET_TASKS }).notNull(),
  file: text("file").notNull(),
  sha256: text("sha256"),
  size: integer("size"),
  split: text("split"),
  description: text("description"),
  createdAt: createdAt(),
});
