import Database from "better-sqlite3";
import { drizzle, type BetterSQLite3Database } from "drizzle-orm/better-sqlite3";
import { migrate } from "drizzle-orm/better-sqlite3/migrator";
import fs from "node:fs";
import path from "node:path";
import * as schema from "./schema";
import { envSetting } from "../lib/env";
import { takeDbStale } from "../lib/db-fault";

export type Db = BetterSQLite3Database<typeof schema> & { $client: Database.Database };
/** A drizzle transaction or the database itself: query modules accept either. */
export type Tx = Parameters<Parameters<Db["transaction"]>[0]>[0] | Db;

export const MIGRATIONS_DIR = path.join(process.cwd(), "db", "migrations");

export function dbPath(): string {
  return path.resolve(envSetting("FRONTIER_DB"));
}

/**
 * Opens (creating if needed) a Frontier database file and applies every committed migration. A
 * directory it creates is 0700 and a file it creates 0600 (SQLite gives the -wal and -shm files
 * the database file's mode), since the database holds worker tokens and share links.
 */
export function openDb(file: string = dbPath()): Db {
  if (file !== ":memory:") {
    fs.mkdirSync(path.dirname(path.resolve(/*turbopackIgnore: true*/ file)), { recursive: true, mode: 0o700 });
    try {
      fs.closeSync(fs.openSync(file, "wx", 0o600));
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== "EEXIST") throw e;
    }
  }
  const sqlite = new Database(file);
  sqlite.pragma("journal_mode = WAL");
  sqlite.pragma("busy_timeout = 5000");
  sqlite.pragma("synchronous = NORMAL");
  sqlite.pragma("foreign_keys = ON");
  const db = drizzle(sqlite, { schema }) as Db;
  migrate(db, { migrationsFolder: MIGRATIONS_DIR });
  return db;
}

const globalForDb = globalThis as unknown as { __frontierDb?: { file: string; db: Db } };

/**
 * The process-wide database: one connection (and so one writer), created on first use and cached
 * on globalThis so Next.js hot reloads in development do not open a second one. Reopened after a
 * read-only error (lib/db-fault.ts).
 */
export function getDb(): Db {
  const file = dbPath();
  // lib/http.ts marks the connection stale after a read-only error: reopen so fixing the file's permissions takes effect without a restart
  if (takeDbStale()) closeDb();
  const cached = globalForDb.__frontierDb;
  if (cached && cached.file === file) return cached.db;
  if (cached) cached.db.$client.close();
  const db = openDb(file);
  globalForDb.__frontierDb = { file, db };
  return db;
}

/** Closes the cached connection (tests switch FRONTIER_DB between files). */
export function closeDb(): void {
  const cached = globalForDb.__frontierDb;
  if (cached) {
    cached.db.$client.close();
    globalForDb.__frontierDb = undefined;
  }
}
