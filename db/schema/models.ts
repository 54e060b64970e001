import { sqliteTable, text, integer } from "drizzle-orm/sqlite-core";
import { createdAt } from "./util";

/** A registered base model: a zoo model, a user's files on disk, or an upload. */
export const models = sqliteTable("models", {
  id: text("id").primaryKey(),
  name: text("name").notNull(),
  kind: text("kind", { enum: ["decoder-lm", "classifier"] }).notNull(),
  source: text("source", { enum: ["zoo", "path", "upload", "shape"] }).notNull(),
  /** JSON: { model: "model.onnx", tokenizer: "tokenizer.json", dir: "/abs/or/relative" } */
  files: text("files", { mode: "json" }).$type<Record<string, string>>().notNull(),
  sha256: text("sha256"),
  params: integer("params"),
  bytes: integer("bytes"),
  card: text("card", { mode: "json" }).$type<Record<string, unknown>>(),
  createdAt: createdAt(),
});
