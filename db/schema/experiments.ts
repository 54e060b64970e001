import { sqliteTable, text, integer } from "drizzle-orm/sqlite-core";
import { createdAt } from "./util";
import { models } from "./models";
import { datasets } from "./datasets";

/** A method plus a parameter grid over one model, dataset and runtime. */
export const experiments = sqliteTable("experiments", {
  id: integer("id").primaryKey({ autoIncrement: true }),
  name: text("name").notNull(),
  description: text("description"),
  modelId: text("model_id")
    .notNull()
    .references(() => models.id),
  datasetId: text("dataset_id")
    .notNull()
    .references(() => datasets.id),
  runtime: text("runtime").notNull(),
  methodId: text("method_id").notNull(),
  grid: text("grid", { mode: "json" }).$type<Record<string, unknown[]>>().notNull(),
  createdAt: createdAt(),
});
