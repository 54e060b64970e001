import path from "node:path";
import { confinedPath, modelRoots } from "./files";
import { eq, sql, type SQL } from "drizzle-orm";
import { getDb, type Tx } from "../client";
import { runEvents, runMetrics, runs } from "../schema";
import { conflict, invalid, issueMessage, notFound } from "../../lib/errors";
import { getMethod } from "../../lib/methods";
import { getMetric, metricDirection } from "../../lib/metrics";
import { hardwareKey } from "../../lib/hardware";
import { HardwareFingerprint } from "../../lib/schemas/workers";
import type { RunFilter } from "../../lib/schemas/filters";
import type {
  LogRunBody,
  LogRunResponse,
  MetricPointsBody,
  MetricPointsResponse,
  MetricSeriesResponse,
  PatchRunBody,
  RunDetail,
  RunSortColumn,
  RunsPage,
  RunActionResponse,
} from "../../lib/schemas/runs";
import { andAll, runFilterConditions, whereClause } from "./run-filter";
import { rawClient } from "./raw";
import { RUN_COLUMNS, RUN_ROW_WIDTH, runRowFrom, runRowFromValues } from "./run-row";
import { reapExpiredLeases } from "./leases";

/** Summary metrics of the given runs, in one query. */
export function metricsByRun(runIds: number[], tx: Tx = getDb()): Map<number, Record<string, number>> {
  const out = new Map<number, Record<string, number>>(runIds.map((id) => [id, {}]));
  if (runIds.length === 0) return out;
  const rows = tx.all<{ run_id: number; key: string; value: number }>(
    sql`SELECT run_id, key, value FROM run_metrics WHERE run_id IN (${sql.join(
      runIds.map((id) => sql`${id}`),
      sql`, `,
    )})`,
  );
  for (const row of rows) out.get(row.run_id)![row.key] = row.value;
  return out;
}

export const SORT_SQL: Record<RunSortColumn, { col: string; nullable: boolean }> = {
  id: { col: "id", nullable: false },
  createdAt: { col: "created_at", nullable: false },
  startedAt: { col: "started_at", nullable: true },
  finishedAt: { col: "finished_at", nullable: true },
  updatedAt: { col: "updated_at", nullable: true },
  status: { col: "status", nullable: false },
  methodId: { col: "method_id", nullable: false },
  family: { col: "family", nullable: false },
  modelId: { col: "model_id", nullable: false },
  datasetId: { col: "dataset_id", nullable: false },
  runtime: { col: "runtime", nullable: false },
  hardwareKey: { col: "hardware_key", nullable: true },
  experimentId: { col: "experiment_id", nullable: true },
};

type SortValue = string | number | null;

/** Opaque page cursor: base64url of [sort, sortValue, id]; tied to its sort so a mismatch is a 400. */
export function encodeCursor(sort: string, value: SortValue, id: number): string {
  return Buffer.from(JSON.stringify([sort, value, id])).toString("base64url");
}

export function decodeCursor(cursor: string, sort: string): { value: SortValue; id: number } {
  let parsed: unknown;
  try {
    parsed = JSON.parse(Buffer.from(cursor, "base64url").toString("utf8"));
  } catch {
    parsed = null;
  }
  if (
    !Array.isArray(parsed) ||
    parsed.length !== 3 ||
    typeof parsed[0] !== "string" ||
    !(parsed[1] === null || typeof parsed[1] === "string" || typeof parsed[1] === "number") ||
    !Number.isSafeInteger(parsed[2])
  ) {
    throw invalid("invalid query", [{ field: "cursor", message: "not a cursor from this API" }]);
  }
  if (parsed[0] !== sort) {
    throw invalid("invalid query", [{ field: "cursor", message: `cursor was made for sort=${parsed[0]}, not sort=${sort}` }]);
  }
  return { value: parsed[1] as SortValue, id: parsed[2] as number };
}

/**
 * One page of runs under a filter and sort, by keyset. Rows lacking the sort value (a metric the
 * run does not have, a null column) come last in both directions, so the order is walked in two
 * sections: rows with a value ordered by (value, id) straight off an index, then the rest by id.
 */
/**
 * Above this many matching runs a metric sort walks run_metrics_key_value in order (stopping after
 * a page); at or below it the matching runs are read and sorted, which is cheaper for a selective
 * filter. On the 100k-run benchmark database: a filter matching 448 runs took 83 ms by the walk
 * (about 11,000 index rows for a page of 50); the README example (2,720 matches, about 1,800 rows
 * for a page) took 25 ms by the walk against 48-60 ms read and sorted.
 */
export const INDEX_WALK_ABOVE = 1500;

/**
 * Workers reap expired leases whenever they call the server; with none alive, a run whose worker
 * died would read "running" forever, so the run list, run page and experiment page reap first. With
 * no lease expired this is one index range seek per active status (runs_status_lease) and writes
 * nothing.
 */
export function reapBeforeRead(tx: Tx = getDb()): void {
  tx.transaction((t) => {
    reapExpiredLeases(Date.now(), t);
  });
}

export function listRuns(
  filter: RunFilter,
  page: { sort: string; cursor?: string; limit: number },
  tx: Tx = getDb(),
  opts: { indexWalkAbove?: number } = {},
): RunsPage {
  reapBeforeRead(tx);
  const desc = page.sort.startsWith("-");
  const name = desc ? page.sort.slice(1) : page.sort;
  const dir = sql.raw(desc ? "DESC" : "ASC");
  const cmp = sql.raw(desc ? "<" : ">");
  const cur = page.cursor ? decodeCursor(page.cursor, page.sort) : null;
  // A page probes only the rows it walks, so a metric range is a per-row lookup there; the total
  // visits every match, where one index range scan into a set is cheaper.
  const conds = runFilterConditions(filter, "r", "exists");
  const countConds = runFilterConditions(filter, "r", "in");
  const limit = page.limit;
  const total = tx.get<{ n: number }>(sql`SELECT count(*) AS n FROM runs r ${whereClause(countConds)}`)!.n;

  // Rows are RUN_COLUMNS followed by the sort value (at RUN_ROW_WIDTH).
  let valueSection: (n: number) => unknown[][];
  let nullSection: ((n: number, afterId: number | null) => unknown[][]) | null;

  if (name.startsWith("metric.")) {
    const key = name.slice("metric.".length);
    // CROSS JOIN fixes SQLite's join order. Many matches: run_metrics outer, so the page is read
    // in index order and stops after `limit` matches. Few: runs outer, then sort what matched; the
    // sort value is then a primary-key lookup on (run_id, key) per run (NOT INDEXED keeps SQLite
    // from range-scanning run_metrics_key_value for each run instead).
    const from = sql.raw(total > (opts.indexWalkAbove ?? INDEX_WALK_ABOVE) ? "run_metrics m CROSS JOIN runs r" : "runs r CROSS JOIN run_metrics m NOT INDEXED");
    valueSection = (n) =>
      tx.values<unknown[]>(sql`SELECT ${RUN_COLUMNS}, m.value AS sv FROM ${from} ON r.id = m.run_id
        WHERE m.key = ${key} AND ${andAll(conds)}
        ${cur && cur.value !== null ? sql`AND (m.value, m.run_id) ${cmp} (${cur.value}, ${cur.id})` : sql``}
        ORDER BY m.value ${dir}, m.run_id ${dir} LIMIT ${n}`);
    nullSection = (n, afterId) =>
      tx.values<unknown[]>(sql`SELECT ${RUN_COLUMNS}, NULL AS sv FROM runs r
        WHERE NOT EXISTS (SELECT 1 FROM run_metrics x NOT INDEXED WHERE x.run_id = r.id AND x.key = ${key}) AND ${andAll(conds)}
        ${afterId !== null ? sql`AND r.id ${cmp} ${afterId}` : sql``}
        ORDER BY r.id ${dir} LIMIT ${n}`);
  } else {
    const spec = SORT_SQL[name as RunSortColumn];
    if (!spec) throw invalid("invalid query", [{ field: "sort", message: `cannot sort by ${name}` }]);
    const col = sql.raw(`r.${spec.col}`);
    if (name === "id") {
      valueSection = (n) =>
        tx.values<unknown[]>(sql`SELECT ${RUN_COLUMNS}, r.id AS sv FROM runs r WHERE ${andAll(conds)}
          ${cur ? sql`AND r.id ${cmp} ${cur.id}` : sql``} ORDER BY r.id ${dir} LIMIT ${n}`);
    } else {
      valueSection = (n) =>
        tx.values<unknown[]>(sql`SELECT ${RUN_COLUMNS}, ${col} AS sv FROM runs r WHERE ${col} IS NOT NULL AND ${andAll(conds)}
          ${cur && cur.value !== null ? sql`AND (${col}, r.id) ${cmp} (${cur.value}, ${cur.id})` : sql``}
          ORDER BY ${col} ${dir}, r.id ${dir} LIMIT ${n}`);
    }
    nullSection = spec.nullable
      ? (n, afterId) =>
          tx.values<unknown[]>(sql`SELECT ${RUN_COLUMNS}, NULL AS sv FROM runs r WHERE ${col} IS NULL AND ${andAll(conds)}
            ${afterId !== null ? sql`AND r.id ${cmp} ${afterId}` : sql``} ORDER BY r.id ${dir} LIMIT ${n}`)
      : null;
  }

  // One extra row tells whether another page exists.
  let rows: unknown[][] = [];
  if (!cur || cur.value !== null) rows = valueSection(limit + 1);
  if (rows.length <= limit && nullSection) {
    const afterId = cur && cur.value === null ? cur.id : null;
    rows = rows.concat(nullSection(limit + 1 - rows.length, afterId));
  }
  const more = rows.length > limit;
  const pageRows = rows.slice(0, limit);
  const pageRuns = pageRows.map((v) => runRowFromValues(v, {}));
  const metrics = metricsByRun(
    pageRuns.map((r) => r.id),
    tx,
  );
  for (const r of pageRuns) r.metrics = metrics.get(r.id)!;
  const last = pageRuns[pageRuns.length - 1];
  return {
    runs: pageRuns,
    nextCursor: more && last ? encodeCursor(page.sort, pageRows[pageRows.length - 1][RUN_ROW_WIDTH] as SortValue, last.id) : null,
    total,
  };
}

function getRun(id: number, tx: Tx): typeof runs.$inferSelect {
  const r = tx.select().from(runs).where(eq(runs.id, id)).get();
  if (!r) throw notFound(`run ${id}`);
  return r;
}

/**
 * The readable file behind an artifact path when it lies under the configured roots (the data
 * directory, where local workers write), else null: a remote worker's files are not on this server.
 */
export function artifactFile(p: string): string | null {
  return confinedPath(p, "file", modelRoots());
}

/** The stored path and size of one artifact of a run, or null. */
export function getArtifact(runId: number, artifactId: number, tx: Tx = getDb()): { path: string; kind: string; bytes: number | null } | null {
  return (
    tx.get<{ path: string; kind: string; bytes: number | null }>(sql`SELECT path, kind, bytes FROM artifacts WHERE run_id = ${runId} AND id = ${artifactId}`) ??
    null
  );
}

/** A run with everything its page shows: params, labelled metrics, history, logs, artifacts. */
export function getRunDetail(id: number, tx: Tx = getDb()): RunDetail {
  reapBeforeRead(tx);
  const r = getRun(id, tx);
  const metricRows = tx.all<{ key: string; value: number }>(sql`SELECT key, value FROM run_metrics WHERE run_id = ${id} ORDER BY key`);
  const events = tx.all<{ id: number; ts: number; level: string; message: string }>(
    sql`SELECT id, ts, level, message FROM (SELECT * FROM run_events WHERE run_id = ${id} ORDER BY ts DESC, id DESC LIMIT 2000) ORDER BY ts, id`,
  );
  const statusHistory = tx.all<{ id: number; ts: number; level: string; message: string }>(
    sql`SELECT id, ts, level, message FROM run_events WHERE run_id = ${id} AND level = 'status' ORDER BY ts, id`,
  );
  const artifacts = tx.all<{ id: number; kind: string; path: string; bytes: number | null; sha256: string | null; created_at: number }>(
    sql`SELECT id, kind, path, bytes, sha256, created_at FROM artifacts WHERE run_id = ${id} ORDER BY id`,
  );
  const seriesKeys = tx.all<{ key: string }>(sql`SELECT DISTINCT key FROM metric_points WHERE run_id = ${id} ORDER BY key`);
  const { metrics: _m, ...row } = runRowFrom(r, {});
  return {
    ...row,
    hardware: r.hardware,
    workerId: r.workerId,
    maxAttempts: r.maxAttempts,
    seed: r.seed,
    codeVersion: r.codeVersion,
    leaseExpiresAt: r.leaseExpiresAt,
    metrics: metricRows.map(({ key, value }) => {
      const def = getMetric(key);
      return {
        key,
        value,
        label: def?.label ?? key,
        unit: def?.unit ?? "",
        direction: metricDirection(key),
        group: def?.group ?? null,
        known: def !== undefined,
      };
    }),
    statusHistory,
    events,
    artifacts: artifacts.map((a) => ({
      id: a.id,
      kind: a.kind,
      name: path.basename(a.path),
      downloadUrl: artifactFile(a.path) ? `/api/v1/runs/${id}/artifacts/${a.id}` : null,
      bytes: a.bytes,
      sha256: a.sha256,
      createdAt: a.created_at,
    })),
    seriesKeys: seriesKeys.map((s) => s.key),
  };
}

function addEvent(tx: Tx, runId: number, level: "info" | "status" | "warn", message: string, ts: number): void {
  tx.insert(runEvents).values({ runId, ts, level, message }).run();
}

/**
 * The grouping label of a logged run's hardware: a worker fingerprint gets the same label workers
 * produce; any other object its `label`/`key`, else the device fields it names.
 */
export function loggedHardwareKey(runtime: string, hw: Record<string, unknown> | undefined): string | null {
  if (!hw) return null;
  const fp = HardwareFingerprint.safeParse({ runtime, ...hw });
  if (fp.success) return hardwareKey(fp.data);
  for (const k of ["label", "key"]) {
    const v = hw[k];
    if (typeof v === "string" && v.trim()) return v.trim().slice(0, 120);
  }
  const str = (k: string) => (typeof hw[k] === "string" && (hw[k] as string).trim() ? (hw[k] as string).trim() : null);
  const device = str("gpu") ?? str("device") ?? str("cpuModel") ?? str("cpu");
  if (!device) return null;
  const cores = typeof hw.cpuCores === "number" && !str("gpu") && !str("device") ? ` ×${hw.cpuCores}` : "";
  return `${runtime} · ${device}${cores}`.slice(0, 120);
}

/** The latest succeeded, real baseline run a compressed run compares against. */
export function findBaselineRun(k: { modelId: string; datasetId: string; runtime: string; hardwareKey: string | null }, tx: Tx = getDb()): number | null {
  const row = tx.get<{ id: number }>(sql`SELECT id FROM runs WHERE method_id = 'baseline' AND status = 'succeeded' AND synthetic = 0
    AND model_id = ${k.modelId} AND dataset_id = ${k.datasetId} AND runtime = ${k.runtime}
    AND hardware_key IS ${k.hardwareKey} ORDER BY finished_at DESC, id DESC LIMIT 1`);
  return row?.id ?? null;
}

/** Stores a run executed elsewhere (source = logged), params validated by its method's schema. */
export function logRun(body: LogRunBody, tx: Tx = getDb(), now = Date.now()): LogRunResponse {
  const method = getMethod(body.methodId);
  if (!method) throw invalid("invalid request", [{ field: "methodId", message: `unknown method "${body.methodId}" (GET /api/v1/methods lists them)` }]);
  const p = method.params.safeParse(body.params);
  if (!p.success) {
    throw invalid(
      "invalid request",
      p.error.issues.flatMap((i) =>
        i.code === "unrecognized_keys"
          ? i.keys.map((k) => ({ field: `params.${k}`, message: `unknown parameter for ${method.id}` }))
          : [{ field: ["params", ...i.path.map(String)].join("."), message: issueMessage(i) }],
      ),
    );
  }
  if (body.startedAt !== undefined && body.finishedAt !== undefined && body.finishedAt < body.startedAt) {
    throw invalid("invalid request", [{ field: "finishedAt", message: "finishedAt is before startedAt" }]);
  }
  const hwKey = loggedHardwareKey(body.runtime, body.hardware);
  const keys = { modelId: body.modelId, datasetId: body.datasetId, runtime: body.runtime, hardwareKey: hwKey };
  return tx.transaction((t) => {
    const baselineRunId = method.id === "baseline" ? null : findBaselineRun(keys, t);
    const [{ id }] = t
      .insert(runs)
      .values({
        methodId: method.id,
        family: method.family,
        // Exactly what the caller gave (validated): defaults are filled only for runs Frontier executes.
        params: body.params as Record<string, unknown>,
        ...keys,
        hardware: body.hardware ?? null,
        status: body.status,
        attempts: 1,
        error: body.error ?? null,
        baselineRunId,
        codeVersion: body.codeVersion ?? null,
        seed: body.seed ?? null,
        tags: body.tags,
        notes: body.notes ?? null,
        source: "logged",
        createdAt: now,
        startedAt: body.startedAt ?? null,
        finishedAt: body.finishedAt ?? now,
        updatedAt: now,
      })
      .returning({ id: runs.id })
      .all();
    const entries = Object.entries(body.metrics);
    if (entries.length > 0)
      t.insert(runMetrics)
        .values(entries.map(([key, value]) => ({ runId: id, key, value })))
        .run();
    addEvent(t, id, "status", `logged as ${body.status}`, now);
    return { id, hardwareKey: hwKey, baselineRunId, unknownMetricKeys: entries.map(([k]) => k).filter((k) => !getMetric(k)) };
  });
}

/** Edits a run's annotations (tags, notes); nothing else about a run changes after the fact. */
export function patchRun(id: number, body: PatchRunBody, tx: Tx = getDb(), now = Date.now()): RunDetail {
  return tx.transaction((t) => {
    getRun(id, t);
    const set: SQL[] = [sql`updated_at = ${now}`];
    if (body.tags !== undefined) set.push(sql`tags = ${JSON.stringify(body.tags)}`);
    if (body.notes !== undefined) set.push(sql`notes = ${body.notes}`);
    t.run(sql`UPDATE runs SET ${sql.join(set, sql`, `)} WHERE id = ${id}`);
    return getRunDetail(id, t);
  });
}

/** queued/leased/running → canceled; a leased worker learns it from its next heartbeat. */
export function cancelRun(id: number, tx: Tx = getDb(), now = Date.now()): RunActionResponse {
  return tx.transaction((t) => {
    const r = getRun(id, t);
    if (!["queued", "leased", "running"].includes(r.status)) throw conflict(`run ${id} is ${r.status}; only queued, leased or running runs can be canceled`);
    t.run(sql`UPDATE runs SET status = 'canceled', finished_at = ${now}, updated_at = ${now}, available_at = NULL WHERE id = ${id}`);
    addEvent(t, id, "status", `canceled (was ${r.status})`, now);
    return { id, status: "canceled" as const };
  });
}

/** failed/canceled → queued with attempts reset; logged runs and methods without an executor cannot be re-run. */
export function retryRun(id: number, tx: Tx = getDb(), now = Date.now()): RunActionResponse {
  return tx.transaction((t) => {
    const r = getRun(id, t);
    if (r.status !== "failed" && r.status !== "canceled") throw conflict(`run ${id} is ${r.status}; only failed or canceled runs can be retried`);
    if (r.source === "logged") throw conflict(`run ${id} was logged from outside Frontier; there is nothing here to re-execute`);
    if (!getMethod(r.methodId)?.implemented) throw conflict(`method ${r.methodId} has no executor yet; run ${id} cannot be retried`);
    t.run(sql`UPDATE runs SET status = 'queued', attempts = 0, error = NULL, lease_token = NULL, lease_expires_at = NULL,
      worker_id = NULL, available_at = NULL, stage = NULL, progress = NULL, started_at = NULL, finished_at = NULL,
      updated_at = ${now} WHERE id = ${id}`);
    t.run(sql`DELETE FROM run_metrics WHERE run_id = ${id}`);
    addEvent(t, id, "status", `queued for retry (was ${r.status})`, now);
    return { id, status: "queued" as const };
  });
}

/**
 * Appends a batch of time-series points in one transaction with one prepared statement, so a
 * failing batch stores nothing and 10,000 points cost one fsync.
 */
/**
 * Appends a batch of points in one transaction. A batch with a `batchId` the run already stored
 * (a client retrying after a timeout) writes nothing and answers the first attempt's count.
 */
export function insertMetricPoints(id: number, body: MetricPointsBody, tx: Tx = getDb(), now = Date.now()): MetricPointsResponse {
  return tx.transaction((t) => {
    getRun(id, t);
    if (body.batchId !== undefined) {
      const client = rawClient(t);
      const claimed = client
        .prepare("INSERT INTO metric_batches (run_id, batch_id, inserted, created_at) VALUES (?, ?, ?, ?) ON CONFLICT DO NOTHING")
        .run(id, body.batchId, body.points.length, now);
      if (claimed.changes === 0) {
        const prior = client.prepare("SELECT inserted FROM metric_batches WHERE run_id = ? AND batch_id = ?").get(id, body.batchId) as { inserted: number };
        return { inserted: prior.inserted, replayed: true };
      }
    }
    const stmt = rawClient(t).prepare("INSERT INTO metric_points (run_id, key, step, value, ts) VALUES (?, ?, ?, ?, ?)");
    for (const p of body.points) stmt.run(id, p.key, p.step, p.value, p.ts ?? now);
    return { inserted: body.points.length, replayed: false };
  });
}

/** A run's time series, one per key, ordered by step. */
export function getMetricSeries(id: number, key: string | undefined, tx: Tx = getDb()): MetricSeriesResponse {
  getRun(id, tx);
  const rows = tx.all<{ key: string; step: number; value: number; ts: number }>(
    sql`SELECT key, step, value, ts FROM metric_points WHERE run_id = ${id} ${key ? sql`AND key = ${key}` : sql``} ORDER BY key, step, ts`,
  );
  const series = new Map<string, { step: number; value: number; ts: number }[]>();
  for (const r of rows) {
    let s = series.get(r.key);
    if (!s) series.set(r.key, (s = []));
    s.push({ step: r.step, value: r.value, ts: r.ts });
  }
  return { runId: id, series: [...series].map(([k, points]) => ({ key: k, points })) };
}
