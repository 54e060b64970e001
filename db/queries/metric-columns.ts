/**
 * One metric's values by run id, read from run_metrics two ways: by (run_id, key) primary-key
 * lookups for a given set of runs, or as the whole column from the covering run_metrics_key_value
 * index. Shared by the Pareto fronts and the runs table's seed sets.
 */
import type Database from "better-sqlite3";

export type Column = (id: number) => number | undefined;

/** Values of one metric for the given runs only, by (run_id, key) primary-key lookups. */
export function sparseColumn(client: Database.Database, key: string, ids: readonly number[]): Column {
  const get = client.prepare("SELECT value FROM run_metrics WHERE run_id = ? AND key = ?").pluck(true);
  const map = new Map<number, number>();
  for (const id of ids) {
    const v = get.get(id, key) as number | undefined;
    if (v !== undefined) map.set(id, v);
  }
  return (id) => map.get(id);
}

/** Values of one metric by run id: a dense array while ids are dense, else a map. */
export function metricColumn(client: Database.Database, key: string, maxId: number): Column {
  // Two single-column reads in the same index order: plucked scalars cost a fraction of one array
  // per row (90k rows: 13 + 14 ms CPU against 70-110 ms, measured on the benchmark machine).
  const q = "FROM run_metrics WHERE key = ? ORDER BY value, run_id";
  const ids = client.prepare(`SELECT run_id ${q}`).pluck(true).all(key) as number[];
  const vals = client.prepare(`SELECT value ${q}`).pluck(true).all(key) as number[];
  if (ids.length !== vals.length) throw new Error(`run_metrics changed while reading ${key}`);
  if (maxId <= Math.max(1 << 20, ids.length * 4)) {
    const arr = new Float64Array(maxId + 1).fill(NaN);
    for (let i = 0; i < ids.length; i++) arr[ids[i]] = vals[i];
    return (id) => (Number.isNaN(arr[id]) ? undefined : arr[id]);
  }
  const map = new Map<number, number>();
  for (let i = 0; i < ids.length; i++) map.set(ids[i], vals[i]);
  return (id) => map.get(id);
}
