import { sqliteTable, text } from "drizzle-orm/sqlite-core";
import { createdAt, ms } from "./util";

/** A registered worker; only the SHA-256 of its token is stored. */
export const workers = sqliteTable("workers", {
  id: text("id").primaryKey(),
  name: text("name").notNull(),
  tokenHash: text("token_hash").notNull().unique(),
  /** JSON: { runtimes: ["cpu", "wasm"], ... } */
  capabilities: text("capabilities", { mode: "json" }).$type<{ runtimes: string[] } & Record<string, unknown>>().notNull(),
  hardware: text("hardware", { mode: "json" }).$type<Record<string, unknown>>(),
  lastHeartbeatAt: ms("last_heartbeat_at"),
  createdAt: createdAt(),
  /** SHA-256 of the enrollment token that issued this worker's token: a rotated enrollment token invalidates it. */
  enrollHash: text("enroll_hash"),
  revokedAt: ms("revoked_at"),
});
