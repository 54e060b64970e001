import { sqliteTable, text, integer } from "drizzle-orm/sqlite-core";
import { MODEL_KINDS, MODEL_SOURCES } from "../../lib/domain";
import { createdAt } from "./util";

/** A registered base model: a zoo model, a user's files on disk, or an upload. */
export const models = sqliteTable("models", {
  id: text("id").primaryKey(),
  name: text("name").notNull(),
  kind: text("kind", { enum: MODEL_KINDS }).notNull(),
  source: text("source", { enum: MODEL_SOURCES }).notNull(),
  /** JSON: { model: "model.onnx", tokenizer: "tokenizer.json", dir: "/abs/or/relative" } */
  files: text("files", { mode: "json" }).$type<Record<string, string>>().notNull(),
  sha256: text("sha256"),
  params: integer("params"),
  bytes: integer("bytes"),
  card: text("card", { mode: "json" }).$type<Record<string, unknown>>(),
  createdAt: createdAt(),
});
