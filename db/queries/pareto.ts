import { sql } from "drizzle-orm";
import { getDb, type Tx } from "../client";
import { metricDirection } from "@/lib/metrics";
import { evenSample, hypervolume, paretoSplit, worstPoint, type XY } from "@/lib/pareto";
import type { RunFilter } from "@/lib/schemas/filters";
import type { FrontPoint, ParetoGroupBy, ParetoQuery, ParetoResponse } from "@/lib/schemas/pareto";
import { andAll, runFilterConditions } from "./run-filter";

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
function metricColumn(tx: Tx, key: string, maxId: number): (id: number) => number | undefined {
  const rows = tx.values<[number, number]>(sql`SELECT run_id, value FROM run_metrics WHERE key = ${key}`);
  if (maxId <= Math.max(1 << 20, rows.length * 4)) {
    const arr = new Float64Array(maxId + 1).fill(NaN);
    for (const [id, v] of rows) arr[id] = v;
    return (id) => (Number.isNaN(arr[id]) ? undefined : arr[id]);
  }
  const map = new Map<number, number>(rows);
  return (id) => map.get(id);
}

/**
 * Pareto fronts per group for two metrics over every run matching the filter, then an O(n log n)
 * sweep per group; only front runs are read in full. The points are gathered by a hash join in
 * memory over three sequential scans (x and y from the covering run_metrics_key_value index, the
 * filtered runs with their group) rather than one SQL join: SQLite answers a join with a b-tree
 * search per row, which on 100k runs cost several times more (docs/BENCHMARKS.md, Tracker).
 */
export function paretoFronts(filter: RunFilter, q: ParetoQuery, tx: Tx = getDb()): ParetoResponse {
  const dx = metricDirection(q.x);
  const dy = metricDirection(q.y);
  const maxId = tx.get<{ m: number | null }>(sql`SELECT max(id) AS m FROM runs`)?.m ?? 0;
  const xOf = metricColumn(tx, q.x, maxId);
  const yOf = q.y === q.x ? xOf : metricColumn(tx, q.y, maxId);
  const rows = tx.values<[number, string | null]>(
    sql`SELECT r.id, ${sql.raw(GROUP_COL[q.group])} FROM runs r WHERE ${andAll(runFilterConditions(filter))}`,
  );
  const byGroup = new Map<string, P[]>();
  const all: P[] = [];
  for (const [id, g] of rows) {
    const x = xOf(id);
    if (x === undefined) continue;
    const y = yOf(id);
    if (y === undefined) continue;
    const p = { id, x, y, g: g ?? "unknown" };
    all.push(p);
    let list = byGroup.get(p.g);
    if (!list) byGroup.set(p.g, (list = []));
    list.push(p);
  }
  const worst = worstPoint(all, dx, dy);
  const reference = worst ? { x: q.refX ?? worst.x, y: q.refY ?? worst.y } : q.refX !== undefined && q.refY !== undefined ? { x: q.refX, y: q.refY } : null;

  const groups: { key: string; front: P[]; hypervolume: number; count: number }[] = [];
  const dominated: P[] = [];
  for (const [key, pts] of byGroup) {
    const split = paretoSplit(pts, dx, dy);
    for (const p of split.dominated) dominated.push(p);
    groups.push({ key, front: split.front, hypervolume: reference ? hypervolume(split.front, reference, dx, dy) : 0, count: pts.length });
  }
  groups.sort((a, b) => b.hypervolume - a.hypervolume || a.key.localeCompare(b.key));
  dominated.sort((a, b) => a.id - b.id);

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
    dominated: evenSample(dominated, q.maxDominated).map((p) => ({ runId: p.id, x: p.x, y: p.y, group: p.g })),
    dominatedTotal: dominated.length,
    total: all.length,
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
