import { integer, sqliteTable, text } from "drizzle-orm/sqlite-core";
import type { ViewState } from "../../lib/schemas/share";
import { createdAt } from "./util";

/** A dashboard view a researcher named (page + URL query), reopened from the Saved views menu. */
export const savedViews = sqliteTable("saved_views", {
  id: integer("id").primaryKey({ autoIncrement: true }),
  name: text("name").notNull().unique(),
  viewState: text("view_state", { mode: "json" }).$type<ViewState>().notNull(),
  createdAt: createdAt(),
});
