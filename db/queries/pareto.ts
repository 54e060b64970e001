import type Database from "better-sqlite3";
import { sql } from "drizzle-orm";
import { SQLiteSyncDialect } from "drizzle-orm/sqlite-core";
import { getDb, type Tx } from "../client";
import { metricDirection } from "@/lib/metrics";
import { evenSample, hypervolume, paretoFrontIndices, type XY } from "@/lib/pareto";
import type { RunFilter } from "@/lib/schemas/filters";
import type { FrontPoint, ParetoGroupBy, ParetoQuery, ParetoResponse } from "@/lib/schemas/pareto";
import { andAll, runFilterConditions } from "./run-filter";
import { rawClient } from "./raw";

const GROUP_COL: Record<ParetoGroupBy, string> = {
  family: "r.family",
  method: "r.method_id",
  runtime: "r.runtime",
  hardware: "r.hardware_key",
};

interface P extends XY {
  id: number;
  g: string;
}

/** Values of one metric by run id: a dense array while ids are dense, else a map. */
function metricColumn(client: Database.Database, key: string, maxId: number): (id: number) => number | undefined {
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

/**
 * Pareto fronts per group for two metrics over every run matching the filter, then an O(n log n)
 * sweep per group; only front runs are read in full. The points are gathered by a hash join in
 * memory over sequential scans (x and y from the covering run_metrics_key_value index, the
 * filtered runs with their group) rather than one SQL join: SQLite answers a join with a b-tree
 * search per row, which on 100k runs cost several times more (docs/BENCHMARKS.md, Tracker).
 */
export function paretoFronts(filter: RunFilter, q: ParetoQuery, tx: Tx = getDb()): ParetoResponse {
  const client = rawClient(tx);
  // One read transaction, so the separate scans see the same snapshot.
  return client.transaction(() => paretoIn(client, filter, q, tx))();
}

function paretoIn(client: Database.Database, filter: RunFilter, q: ParetoQuery, tx: Tx): ParetoResponse {
  const dx = metricDirection(q.x);
  const dy = metricDirection(q.y);
  const maxId = tx.get<{ m: number | null }>(sql`SELECT max(id) AS m FROM runs`)?.m ?? 0;
  const xOf = metricColumn(client, q.x, maxId);
  const yOf = q.y === q.x ? xOf : metricColumn(client, q.y, maxId);
  const where = andAll(runFilterConditions(filter));
  const g = sql.raw(GROUP_COL[q.group]);
  // Run ids in (group, synthetic, id) order plus one count per group: both read the (group,
  // synthetic) index in its own order without touching the table or sorting, where ids in id
  // order with their group meant two table scans.
  const counts = tx.values<[string | null, number]>(sql`SELECT ${g}, count(*) FROM runs r WHERE ${where} GROUP BY ${g} ORDER BY ${g}`);
  const idsSql = new SQLiteSyncDialect().sqlToQuery(sql`SELECT r.id FROM runs r WHERE ${where} ORDER BY ${g}, r.synthetic, r.id`);
  const runIds = client.prepare(idsSql.sql).pluck(true).all(...idsSql.params) as number[];
  if (runIds.length !== counts.reduce((n, c) => n + c[1], 0)) throw new Error("runs changed during a Pareto read");

  // Columnar per group (ids, x, y), and every point as a (group, index) pair: no object per point
  // until the answer is built.
  const cols: { key: string; ids: number[]; xs: number[]; ys: number[] }[] = [];
  const ptGroup: number[] = [];
  const ptIndex: number[] = [];
  let wx = -Infinity, wy = -Infinity; // worst per axis, as "lower is better" values
  const sx = dx === "lower" ? 1 : -1;
  const sy = dy === "lower" ? 1 : -1;
  let at = 0;
  for (const [groupValue, n] of counts) {
    const key = groupValue ?? "unknown";
    // NULL and a literal "unknown" group share one entry
    let gi = cols.findIndex((c) => c.key === key);
    if (gi < 0) {
      gi = cols.length;
      cols.push({ key, ids: [], xs: [], ys: [] });
    }
    const c = cols[gi];
    for (const end = at + n; at < end; at++) {
      const id = runIds[at];
      const x = xOf(id);
      if (x === undefined) continue;
      const y = yOf(id);
      if (y === undefined) continue;
      ptGroup.push(gi);
      ptIndex.push(c.ids.length);
      c.ids.push(id);
      c.xs.push(x);
      c.ys.push(y);
      if (sx * x > wx) wx = sx * x;
      if (sy * y > wy) wy = sy * y;
    }
  }
  const total = ptGroup.length;
  const reference =
    total > 0 ? { x: q.refX ?? sx * wx, y: q.refY ?? sy * wy } : q.refX !== undefined && q.refY !== undefined ? { x: q.refX, y: q.refY } : null;

  const groups: { key: string; front: P[]; hypervolume: number; count: number }[] = [];
  const onFront = cols.map((c) => new Uint8Array(c.ids.length));
  cols.forEach((c, gi) => {
    if (c.ids.length === 0) return; // a group whose runs lack x or y
    const front = paretoFrontIndices(c.xs, c.ys, dx, dy).map((i) => {
      onFront[gi][i] = 1;
      return { id: c.ids[i], x: c.xs[i], y: c.ys[i], g: c.key };
    });
    groups.push({ key: c.key, front, hypervolume: reference ? hypervolume(front, reference, dx, dy) : 0, count: c.ids.length });
  });
  groups.sort((a, b) => b.hypervolume - a.hypervolume || a.key.localeCompare(b.key));
  // Dominated points in (group value, run id) order, so the same query draws the same sample.
  const dominated: number[] = [];
  for (let p = 0; p < total; p++) if (onFront[ptGroup[p]][ptIndex[p]] === 0) dominated.push(p);
  const sample = evenSample(dominated, q.maxDominated).map((p) => {
    const c = cols[ptGroup[p]];
    const i = ptIndex[p];
    return { runId: c.ids[i], x: c.xs[i], y: c.ys[i], group: c.key };
  });

  const details = frontDetails(groups.flatMap((g) => g.front.map((p) => p.id)), tx);
  return {
    x: { key: q.x, direction: dx },
    y: { key: q.y, direction: dy },
    group: q.group,
    reference,
    groups: groups.map((g) => ({
      key: g.key,
      front: g.front.map((p) => ({ ...details.get(p.id)!, runId: p.id, x: p.x, y: p.y })),
      hypervolume: g.hypervolume,
      count: g.count,
    })),
    dominated: sample,
    dominatedTotal: dominated.length,
    total,
  };
}

type Detail = Omit<FrontPoint, "runId" | "x" | "y">;

function frontDetails(ids: number[], tx: Tx): Map<number, Detail> {
  const out = new Map<number, Detail>();
  for (let i = 0; i < ids.length; i += 500) {
    const chunk = ids.slice(i, i + 500);
    const rows = tx.all<{ id: number; method_id: string; family: string; params: string; model_id: string; dataset_id: string; runtime: string; hardware_key: string | null }>(
      sql`SELECT id, method_id, family, params, model_id, dataset_id, runtime, hardware_key FROM runs WHERE id IN (${sql.join(chunk.map((id) => sql`${id}`), sql`, `)})`,
    );
    for (const r of rows) {
      out.set(r.id, {
        methodId: r.method_id,
        family: r.family,
        params: JSON.parse(r.params) as Record<string, unknown>,
        modelId: r.model_id,
        datasetId: r.dataset_id,
        runtime: r.runtime,
        hardwareKey: r.hardware_key,
      });
    }
  }
  return out;
}
