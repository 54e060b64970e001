import { sql, type SQL } from "drizzle-orm";
import { getDb, type Tx } from "../client";
import { getMethod } from "../../lib/methods";
import { csvRunEncoder, exportHeader, orderMetricKeys, type ExportLayout } from "../../lib/export/columns";
import { csvCell, csvLine } from "../../lib/export/csv";
import type { RunFilter } from "../../lib/schemas/filters";
import type { RunRow } from "../../lib/schemas/runs";
import { andAll, runFilterConditions } from "./run-filter";
import { rawClient } from "./raw";
import { RUN_COLUMNS, runIdOf, runRowFromValues } from "./run-row";

/** Runs per chunk of an export; one chunk is one query for runs plus one for their metrics. */
export const EXPORT_CHUNK = 2000;

/**
 * Distinct values of an indexed column by skip-scan: one index search per distinct value instead
 * of reading every row (the metric keys of 100k runs: 720k index entries, 8 distinct keys).
 */
function distinctIndexed(tx: Tx, table: string, col: string): string[] {
  const t = sql.raw(table);
  const c = sql.raw(col);
  return tx
    .all<{ v: string }>(sql`WITH RECURSIVE d(v) AS (
      SELECT min(${c}) FROM ${t}
      UNION ALL SELECT (SELECT min(${c}) FROM ${t} WHERE ${c} > d.v) FROM d WHERE d.v IS NOT NULL
    ) SELECT v FROM d WHERE v IS NOT NULL`)
    .map((r) => r.v);
}

/**
 * The param and metric columns of an export under a filter. Param names come from the registry's
 * schemas of the methods present (a run's params were parsed by that schema, so they are exactly
 * its keys); methods no longer registered contribute the keys their stored params have. Each
 * candidate method and metric key is kept if one matching run has it (EXISTS stops at the first).
 */
export function exportLayout(filter: RunFilter, tx: Tx = getDb()): ExportLayout {
  const where = andAll(runFilterConditions(filter, "r", "exists"));
  const present = (cond: SQL) => tx.get<{ e: number }>(sql`SELECT EXISTS (SELECT 1 FROM runs r WHERE ${cond} AND ${where}) AS e`)!.e === 1;
  const methods = distinctIndexed(tx, "runs", "method_id").filter((m) => present(sql`r.method_id = ${m}`));
  const params = new Set<string>();
  for (const id of methods) {
    const m = getMethod(id);
    if (m) for (const k of Object.keys(m.params.shape)) params.add(k);
    else {
      const keys = tx.all<{ key: string }>(sql`SELECT DISTINCT j.key FROM runs r, json_each(r.params) j WHERE r.method_id = ${id} AND ${where}`);
      for (const k of keys) params.add(k.key);
    }
  }
  const metrics = distinctIndexed(tx, "run_metrics", "key").filter((k) =>
    present(sql`EXISTS (SELECT 1 FROM run_metrics m NOT INDEXED WHERE m.run_id = r.id AND m.key = ${k})`),
  );
  const experimentNames = new Map(
    tx
      .all<{ id: number; name: string }>(
        sql`SELECT e.id, e.name FROM experiments e WHERE EXISTS (SELECT 1 FROM runs r WHERE r.experiment_id = e.id AND ${where})`,
      )
      .map((e) => [e.id, e.name] as const),
  );
  return { params: [...params].sort(), metrics: orderMetricKeys(metrics), experimentNames };
}

/**
 * Every run matching the filter, by id, in chunks read by keyset so an export of 100k runs never
 * holds them all in memory and never re-scans what it already sent.
 */
export function* exportChunks(filter: RunFilter, tx: Tx = getDb(), chunk = EXPORT_CHUNK): Generator<RunRow[]> {
  const where = andAll(runFilterConditions(filter, "r", "exists"));
  // Metrics of a chunk come as two single-column reads over the (run_id, key) primary key: run_id
  // and key folded into one integer (run_id * M + key index), then the values. Plucked scalars
  // cost a fraction of one array per row, and no JS string per metric row is made.
  const client = rawClient(tx);
  const keyList = distinctIndexed(tx, "run_metrics", "key");
  // One code more than there are keys: a key that appears after this list was read gets code M - 1.
  const M = keyList.length + 1;
  const range = "FROM run_metrics WHERE run_id BETWEEN ? AND ? ORDER BY run_id, key";
  const caseSql = keyList.length ? `CASE key ${keyList.map(() => "WHEN ? THEN ?").join(" ")} ELSE ${M - 1} END` : "0";
  const caseParams = keyList.flatMap((k, i) => [k, i]);
  const codes = client.prepare(`SELECT run_id * ${M} + ${caseSql} ${range}`).pluck(true);
  const values = client.prepare(`SELECT value ${range}`).pluck(true);
  let after = 0;
  for (;;) {
    const rows = tx.values<unknown[]>(sql`SELECT ${RUN_COLUMNS} FROM runs r WHERE r.id > ${after} AND ${where} ORDER BY r.id LIMIT ${chunk}`);
    if (rows.length === 0) return;
    const first = runIdOf(rows[0]);
    const last = runIdOf(rows[rows.length - 1]);
    const metrics = new Map<number, Record<string, number>>();
    for (const r of rows) metrics.set(runIdOf(r), {});
    const mc = codes.all(...caseParams, first, last) as number[];
    const mv = values.all(first, last) as number[];
    if (mc.length !== mv.length) throw new Error("run_metrics changed during an export chunk read");
    for (let i = 0; i < mc.length; i++) {
      const code = mc[i];
      const ki = code % M;
      if (ki === M - 1) continue; // a key added after the export began
      const m = metrics.get((code - ki) / M);
      if (m) m[keyList[ki]] = mv[i];
    }
    yield rows.map((r) => runRowFromValues(r, metrics.get(runIdOf(r))!));
    if (rows.length < chunk) return;
    after = last;
  }
}

/**
 * Every run matching the filter as a CSV or JSON byte stream, one chunk read per pull, so the
 * response starts at once and a client that goes away stops the reads.
 */
export function exportStream(filter: RunFilter, format: "csv" | "json", tx: Tx = getDb(), opts: { bom?: boolean } = {}): ReadableStream<Uint8Array> {
  const csv = format === "csv";
  const layout = csv ? exportLayout(filter, tx) : null;
  const encode = layout ? csvRunEncoder(layout, csvCell) : null;
  const chunks = exportChunks(filter, tx);
  const enc = new TextEncoder();
  let first = true;
  return new ReadableStream<Uint8Array>({
    start(controller) {
      // A UTF-8 byte order mark on request (bom=1): Excel reads a CSV without one as the system code page.
      controller.enqueue(enc.encode(layout ? (opts.bom ? "\uFEFF" : "") + csvLine(exportHeader(layout)) : "["));
    },
    pull(controller) {
      const next = chunks.next();
      if (next.done) {
        if (!csv) controller.enqueue(enc.encode("]\n"));
        controller.close();
        return;
      }
      let out = "";
      for (const run of next.value) {
        if (encode) out += encode(run);
        else {
          out += (first ? "\n" : ",\n") + JSON.stringify(run);
          first = false;
        }
      }
      controller.enqueue(enc.encode(out));
    },
    cancel() {
      chunks.return(undefined);
    },
  });
}
