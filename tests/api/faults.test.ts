import Database from "better-sqlite3";
import { drizzle } from "drizzle-orm/better-sqlite3";
import { spawnSync } from "node:child_process";
import fs from "node:fs";
import path from "node:path";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { GET as health } from "@/app/api/v1/health/route";
import { GET as getMetrics, POST as postMetrics } from "@/app/api/v1/runs/[id]/metrics/route";
import { POST as postRun } from "@/app/api/v1/runs/route";
import { backupDatabase } from "@/db/backup";
import * as schema from "@/db/schema";
import { closeDb, dbPath, getDb } from "@/db/client";
import { call, cleanup, count, freshDb } from "./helpers";

const run = { methodId: "baseline", modelId: "m", datasetId: "d", runtime: "cpu", metrics: { accuracy: 0.5 } };
const batch = (n: number, extra: Record<string, unknown> = {}) => ({
  points: Array.from({ length: n }, (_, i) => ({ key: "loss", step: i, value: 1 / (i + 1) })),
  ...extra,
});

let dir: string;
let runId: number;

beforeAll(async () => {
  dir = freshDb();
  const r = await call(postRun, "POST", "/api/v1/runs", { body: run });
  expect(r.status).toBe(201);
  runId = r.json.id;
});
afterAll(() => cleanup(dir));
// every test leaves the process-wide connection as it found it: a fresh one with no simulated fault
afterEach(() => closeDb());

const postBatch = (body: unknown) => call(postMetrics, "POST", `/api/v1/runs/${runId}/metrics`, { body, params: { id: String(runId) } });

describe("database faults answer 503 saying what is wrong", () => {
  // Tests run as root, where chmod does not stop writes; a read-only database is simulated with
  // PRAGMA query_only on the live connection, which makes every write fail with SQLITE_READONLY
  // as a connection SQLite opened read-only does. Reopening the connection clears it, as fixing
  // the file's permissions clears the real fault.
  it("read-only: writes get 503, /health is degraded, and the next write after the fix succeeds without a restart", async () => {
    const before = count("metric_points");
    getDb().$client.pragma("query_only = 1");
    const w = await postBatch(batch(3));
    expect(w.status).toBe(503);
    expect(w.json.error).toMatch(/read-only/);
    expect(count("metric_points")).toBe(before);

    getDb().$client.pragma("query_only = 1"); // the fault persists (the file is still read-only)
    const h = await call(health, "GET", "/api/v1/health");
    expect(h.status).toBe(503);
    expect(h.json.status).toBe("degraded");
    expect(h.json.reason).toMatch(/read-only/);

    // the fault is fixed: the connection the 503 marked stale is reopened on the next request
    const ok = await postBatch(batch(3));
    expect(ok.status).toBe(201);
    expect(count("metric_points")).toBe(before + 3);
    const h2 = await call(health, "GET", "/api/v1/health");
    expect(h2.status).toBe(200);
    expect(h2.json).toMatchObject({ status: "ok", runs: 1 });
  });

  it("a connection opened read-only (readonly: true) is reopened read-write after its first refused write", async () => {
    // the server's connection swapped for one opened with readonly: true, as SQLite opens a file it may not write
    const file = dbPath();
    closeDb();
    const roDb = drizzle(new Database(file, { readonly: true }), { schema });
    (globalThis as unknown as { __frontierDb?: unknown }).__frontierDb = { file, db: roDb };
    const w = await postBatch(batch(1));
    expect(w.status).toBe(503);
    expect(w.json.error).toMatch(/read-only/);
    const ok = await postBatch(batch(1));
    expect(ok.status).toBe(201);
  });

  it("disk full: a write that needs a new page gets 503 naming the full disk", async () => {
    // simulated with PRAGMA max_page_count capped at the current size: SQLite answers SQLITE_FULL
    // exactly as when the file system has no space for the next page
    const c = getDb().$client;
    const pages = c.pragma("page_count", { simple: true }) as number;
    c.pragma(`max_page_count = ${pages}`);
    const before = count("metric_points");
    const w = await postBatch(batch(5000));
    expect(w.status).toBe(503);
    expect(w.json.error).toMatch(/full/);
    expect(count("metric_points")).toBe(before);
  });

  it("busy: a write blocked past the busy timeout gets 503 with Retry-After, /health too", async () => {
    getDb().$client.pragma("busy_timeout = 50");
    const other = new Database(dbPath());
    other.exec("BEGIN IMMEDIATE");
    try {
      const w = await postBatch(batch(1));
      expect(w.status).toBe(503);
      expect(w.json.error).toMatch(/busy/);
      expect(Number(w.headers.get("retry-after"))).toBeGreaterThan(0);
      const h = await call(health, "GET", "/api/v1/health");
      expect(h.status).toBe(503);
      expect(h.json).toMatchObject({ status: "degraded" });
      expect(h.json.reason).toMatch(/busy/);
      expect(h.headers.get("retry-after")).not.toBeNull();
    } finally {
      other.exec("ROLLBACK");
      other.close();
    }
    expect((await postBatch(batch(1))).status).toBe(201);
  });
});

describe("metric batch idempotency (batchId)", () => {
  it("a retried batch with the same batchId stores once and answers the first attempt's count", async () => {
    const before = count("metric_points");
    const first = await postBatch(batch(4, { batchId: "b-1" }));
    expect(first.status).toBe(201);
    expect(first.json).toEqual({ inserted: 4, replayed: false });
    const retry = await postBatch(batch(4, { batchId: "b-1" }));
    expect(retry.status).toBe(200);
    expect(retry.json).toEqual({ inserted: 4, replayed: true });
    expect(count("metric_points")).toBe(before + 4);
    const other = await postBatch(batch(2, { batchId: "b-2" }));
    expect(other.status).toBe(201);
    expect(count("metric_points")).toBe(before + 6);
    const noKey = await postBatch(batch(2));
    const noKeyAgain = await postBatch(batch(2));
    expect([noKey.status, noKeyAgain.status]).toEqual([201, 201]);
    expect(count("metric_points")).toBe(before + 10);
  });

  it("a batch refused by a fault claims no batchId, so its retry stores", async () => {
    getDb().$client.pragma("query_only = 1");
    expect((await postBatch(batch(3, { batchId: "after-fault" }))).status).toBe(503);
    const retry = await postBatch(batch(3, { batchId: "after-fault" }));
    expect(retry.status).toBe(201);
    expect(retry.json.replayed).toBe(false);
  });

  it("validates batchId", async () => {
    const r = await postBatch(batch(1, { batchId: "has space" }));
    expect(r.status).toBe(400);
    expect(r.json.details.map((d: { field: string }) => d.field)).toContain("batchId");
  });
});

describe("backup", () => {
  it("copies a consistent snapshot with VACUUM INTO while the connection is open, and the copy restores", async () => {
    const out = path.join(dir, "backups", "copy.db");
    const live = getDb().$client;
    live.exec("BEGIN IMMEDIATE"); // a write in progress on the server's connection is not in the copy
    live.prepare("INSERT INTO metric_points (run_id, key, step, value, ts) VALUES (?, 'uncommitted', 0, 0, 0)").run(runId);
    const { runs } = backupDatabase(dbPath(), out);
    live.exec("ROLLBACK");
    expect(runs).toBe(1);
    expect(fs.statSync(out).mode & 0o777).toBe(0o600);
    const copy = new Database(out, { readonly: true });
    try {
      for (const t of ["runs", "run_metrics", "metric_points", "metric_batches"]) {
        const n = (copy.prepare(`SELECT count(*) AS n FROM ${t}`).get() as { n: number }).n;
        expect(n, t).toBe(count(t));
      }
      const uncommitted = copy.prepare("SELECT count(*) AS n FROM metric_points WHERE key = 'uncommitted'").get() as { n: number };
      expect(uncommitted.n).toBe(0);
    } finally {
      copy.close();
    }
    expect(() => backupDatabase(dbPath(), out)).toThrow(/already exists/);
  });

  it("npm run backup -- --out FILE writes the copy from the CLI", () => {
    const out = path.join(dir, "cli-copy.db");
    const r = spawnSync("npm", ["run", "--silent", "backup", "--", "--out", out], { env: { ...process.env, FRONTIER_DB: dbPath() }, encoding: "utf8" });
    expect(r.status, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/backed up .* \(\d+ bytes, 1 runs\)/);
    const copy = new Database(out, { readonly: true });
    expect((copy.prepare("SELECT count(*) AS n FROM metric_points").get() as { n: number }).n).toBe(count("metric_points"));
    copy.close();
    const series = call(getMetrics, "GET", `/api/v1/runs/${runId}/metrics`, { params: { id: String(runId) } });
    return series.then((s) => expect(s.status).toBe(200));
  }, 60_000);
});

describe("file modes", () => {
  it("creates the data directory 0700 and the database (and its WAL) 0600", () => {
    const prev = process.env.FRONTIER_DB;
    const dataDir = path.join(dir, "fresh", "data");
    closeDb();
    process.env.FRONTIER_DB = path.join(dataDir, "frontier.db");
    try {
      getDb();
      expect(fs.statSync(dataDir).mode & 0o777).toBe(0o700);
      expect(fs.statSync(path.join(dataDir, "frontier.db")).mode & 0o777).toBe(0o600);
      expect(fs.statSync(path.join(dataDir, "frontier.db-wal")).mode & 0o777).toBe(0o600);
    } finally {
      closeDb();
      process.env.FRONTIER_DB = prev;
    }
  });
});
