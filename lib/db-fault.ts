/**
 * Database faults a request can hit through no fault of its own — a read-only database file, a
 * full disk, a lock held past the busy timeout — as the 503 the API answers instead of a 500.
 * Pure (no database import), so lib/http.ts stays usable from client components.
 */
export type DbFault = { kind: "readonly" | "full" | "busy" | "cantopen" | "io"; message: string; retryAfterS?: number };

/** Seconds a client is told to wait (Retry-After) before retrying a write refused as busy. */
export const BUSY_RETRY_AFTER_S = 1;

const STALE = "__frontierDbStale";

/** The fault a better-sqlite3 error (its `code`, e.g. SQLITE_READONLY_DBMOVED) stands for, or null for any other error. */
export function dbFault(e: unknown): DbFault | null {
  const code = typeof e === "object" && e !== null && typeof (e as { code?: unknown }).code === "string" ? (e as { code: string }).code : "";
  if (!code.startsWith("SQLITE_")) return null;
  if (code.startsWith("SQLITE_READONLY"))
    return { kind: "readonly", message: "database is read-only (check the permissions of the database file and its directory); writes are refused" };
  if (code === "SQLITE_FULL" || code === "SQLITE_IOERR_NOSPC")
    return { kind: "full", message: "database or disk is full; writes are refused until space is freed" };
  if (code.startsWith("SQLITE_BUSY") || code.startsWith("SQLITE_LOCKED"))
    return { kind: "busy", message: "database is busy (locked by another writer); retry shortly", retryAfterS: BUSY_RETRY_AFTER_S };
  if (code.startsWith("SQLITE_CANTOPEN")) return { kind: "cantopen", message: "database file cannot be opened (check its path and permissions)" };
  if (code.startsWith("SQLITE_IOERR")) return { kind: "io", message: "database I/O error (disk or file system)" };
  return null;
}

/**
 * Marks the process-wide connection for reopening on its next use (db/client.ts getDb): a
 * connection SQLite opened read-only stays read-only after the file's permissions are fixed.
 * Kept on globalThis so every route bundle sees the same flag.
 */
export function markDbStale(): void {
  (globalThis as Record<string, unknown>)[STALE] = true;
}

/** Whether the connection was marked for reopening; clears the mark. */
export function takeDbStale(): boolean {
  const g = globalThis as Record<string, unknown>;
  const stale = g[STALE] === true;
  g[STALE] = false;
  return stale;
}

/** Classifies a database error, marking the connection for reopening after a read-only one. */
export function noteDbFault(e: unknown): DbFault | null {
  const fault = dbFault(e);
  if (fault?.kind === "readonly" || fault?.kind === "cantopen") markDbStale();
  return fault;
}
