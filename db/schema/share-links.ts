import { sqliteTable, text } from "drizzle-orm/sqlite-core";
import { createdAt, ms } from "./util";

/** A short read-only link to a dashboard view; the view state lives here, not in the URL. */
export const shareLinks = sqliteTable("share_links", {
  token: text("token").primaryKey(),
  viewState: text("view_state", { mode: "json" }).$type<Record<string, unknown>>().notNull(),
  createdAt: createdAt(),
  expiresAt: ms("expires_at"),
  revokedAt: ms("revoked_at"),
});
