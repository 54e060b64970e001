import { sql } from "drizzle-orm";
import { getDb, type Tx } from "../client";
import { getMethod } from "@/lib/methods";
import { orderMetricKeys, type ExportLayout } from "@/lib/export/columns";
import type { RunFilter } from "@/lib/schemas/filters";
import type { RunRow } from "@/lib/schemas/runs";
import { andAll, runFilterConditions } from "./run-filter";
import { RUN_COLUMNS, toRunRow, type RawRun } from "./runs";

/** Runs per chunk of an export; one chunk is one query for runs plus one for their metrics. */
export const EXPORT_CHUNK = 2000;

/**
 * The param and metric columns of an export under a filter. Param names come from the registry's
 * schemas of the methods present (a run's params were parsed by that schema, so they are exactly
 * its keys); methods no longer registered contribute the keys their stored params have.
 */
export function exportLayout(filter: RunFilter, tx: Tx = getDb()): ExportLayout {
  const where = andAll(runFilterConditions(filter));
  const methods = tx.all<{ method_id: string }>(sql`SELECT DISTINCT r.method_id FROM runs r WHERE ${where}`).map((r) => r.method_id);
  const params = new Set<string>();
  const unregistered: string[] = [];
  for (const id of methods) {
    const m = getMethod(id);
    if (m) for (const k of Object.keys(m.params.shape)) params.add(k);
    else unregistered.push(id);
  }
  if (unregistered.length > 0) {
    const keys = tx.all<{ key: string }>(sql`SELECT DISTINCT j.key FROM runs r, json_each(r.params) j
      WHERE r.method_id IN (${sql.join(unregistered.map((u) => sql`${u}`), sql`, `)}) AND ${where}`);
    for (const k of keys) params.add(k.key);
  }
  const metrics = tx.all<{ key: string }>(sql`SELECT DISTINCT m.key FROM runs r JOIN run_metrics m ON m.run_id = r.id WHERE ${where}`);
  return { params: [...params].sort(), metrics: orderMetricKeys(metrics.map((m) => m.key)) };
}

/**
 * Every run matching the filter, by id, in chunks read by keyset so an export of 100k runs never
 * holds them all in memory and never re-scans what it already sent.
 */
export function* exportChunks(filter: RunFilter, tx: Tx = getDb(), chunk = EXPORT_CHUNK): Generator<RunRow[]> {
  const where = andAll(runFilterConditions(filter));
  let after = 0;
  for (;;) {
    const rows = tx.all<RawRun>(sql`SELECT ${RUN_COLUMNS} FROM runs r WHERE r.id > ${after} AND ${where} ORDER BY r.id LIMIT ${chunk}`);
    if (rows.length === 0) return;
    const first = rows[0].id;
    const last = rows[rows.length - 1].id;
    const metrics = new Map<number, Record<string, number>>(rows.map((r) => [r.id, {}]));
    // One range read over the (run_id, key) primary key; rows of runs the filter left out are skipped.
    const mrows = tx.values<[number, string, number]>(sql`SELECT run_id, key, value FROM run_metrics WHERE run_id BETWEEN ${first} AND ${last}`);
    for (const [id, key, value] of mrows) {
      const m = metrics.get(id);
      if (m) m[key] = value;
    }
    yield rows.map((r) => toRunRow(r, metrics.get(r.id)!));
    if (rows.length < chunk) return;
    after = last;
  }
}

