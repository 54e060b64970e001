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

/**
 * Pareto fronts per group for two metrics over every run matching the filter. The points come
 * from one query (x and y joined from run_metrics, the group from runs) and the fronts from an
 * O(n log n) sweep per group; only front runs are then read in full.
 */
export function paretoFronts(filter: RunFilter, q: ParetoQuery, tx: Tx = getDb()): ParetoResponse {
  const dx = metricDirection(q.x);
  const dy = metricDirection(q.y);
  const rows = tx.values<[number, number, number, string | null]>(sql`SELECT r.id, mx.value, my.value, ${sql.raw(GROUP_COL[q.group])}
    FROM run_metrics mx
    JOIN run_metrics my ON my.run_id = mx.run_id AND my.key = ${q.y}
    JOIN runs r ON r.id = mx.run_id
    WHERE mx.key = ${q.x} AND ${andAll(runFilterConditions(filter))}`);
  const byGroup = new Map<string, P[]>();
  const all: P[] = new Array(rows.length);
  for (let i = 0; i < rows.length; i++) {
    const [id, x, y, g] = rows[i];
    const p = { id, x, y, g: g ?? "unknown" };
    all[i] = p;
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
    dominated.push(...split.dominated);
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
