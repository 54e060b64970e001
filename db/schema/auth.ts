import { index, integer, sqliteTable, text } from "drizzle-orm/sqlite-core";
import { createdAt, ms } from "./util";

/**
 * An API token for writes (and reads with FRONTIER_READ=token) in token mode. Only the SHA-256 of
 * the token is stored; the token itself is shown once, when `npm run token -- create` makes it.
 */
export const apiTokens = sqliteTable("api_tokens", {
  id: text("id").primaryKey(),
  name: text("name").notNull().unique(),
  tokenHash: text("token_hash").notNull().unique(),
  createdAt: createdAt(),
  lastUsedAt: ms("last_used_at"),
  revokedAt: ms("revoked_at"),
});

/**
 * A dashboard sign-in: the SHA-256 of the session cookie and of its CSRF token, the API token it
 * was opened with (revoking that token ends the session) and when it expires.
 */
export const sessions = sqliteTable(
  "sessions",
  {
    tokenHash: text("token_hash").primaryKey(),
    csrfHash: text("csrf_hash").notNull(),
    apiTokenId: text("api_token_id")
      .notNull()
      .references(() => apiTokens.id, { onDelete: "cascade" }),
    createdAt: createdAt(),
    expiresAt: integer("expires_at").notNull(),
  },
  (t) => [index("sessions_expires_at").on(t.expiresAt)],
);
