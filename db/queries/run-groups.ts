import { type SQL, sql } from "drizzle-orm";
import { getDb, type Tx } from "../client";
import { invalid } from "../../lib/errors";
import type { RunFilter } from "../../lib/schemas/filters";
import type { RunGroup, RunGroupsPage } from "../../lib/schemas/run-groups";
import type { RunSortColumn } from "../../lib/schemas/runs";
import type { RunStatus } from "../../lib/schemas/common";
import { contextKey, meanSd, methodParamsKeyOfText } from "../../lib/seed-sets";
import { runFilterConditions, whereClause } from "./run-filter";
import { rawClient } from "./raw";
import { metricColumn, sparseColumn } from "./metric-columns";
import { decodeCursor, encodeCursor, reapBeforeRead, SORT_SQL } from "./runs";

type SortValue = string | number | null;

interface Pending {
  id: number;
  ids: number[];
  /** A metric sort: the mean over the members that have it; otherwise the first member's value. */
  value: SortValue;
}

/** Above this many runs a metric sort reads the metric's whole column; at or below, each run's value by primary key. */
export const COLUMN_READ_ABOVE = 5000;

/**
 * One page of seed sets (lib/seed-sets.ts: same method, parameters and context, any seed) under a
 * run filter and sort, the groups formed from every run the filter matches: one GROUP BY over the
 * filtered runs, then only the page's groups are read in full (members' status, tags, seeds,
 * metrics).
 * A metric sort orders by the mean over the members that have it; any other sort by the first
 * (lowest id) member's value. Groups lacking the sort value come last in both directions, as in the
 * plain list. The cursor names the last group's (sort value, first id).
 *
 * Measured on the 100k-run benchmark database (data/bench-tracker.db, includeSynthetic=1; 2 cores
 * shared with other jobs, load about 5; 7 requests, median): every run sorted by id 391 ms, by
 * created 454 ms, by a metric's mean 509 ms (the metric read per run inside the GROUP BY took
 * 798 ms); one model and dataset (11k runs) by a metric 103 ms; the plain list answers in under
 * 10 ms, since it stops after a page. Reading runs one row at a time and grouping them in memory
 * took 1250 ms for the first.
 */
export function listRunGroups(
  filter: RunFilter,
  page: { sort: string; cursor?: string; limit: number },
  tx: Tx = getDb(),
  opts: { columnReadAbove?: number } = {},
): RunGroupsPage {
  reapBeforeRead(tx);
  const desc = page.sort.startsWith("-");
  const name = desc ? page.sort.slice(1) : page.sort;
  const cursorSort = `seeds:${page.sort}`;
  const cur = page.cursor ? decodeCursor(page.cursor, cursorSort) : null;
  const where = whereClause(runFilterConditions(filter, "r", "in"));
  const metricKey = name.startsWith("metric.") ? name.slice("metric.".length) : null;
  let sortValue: SQL = sql`NULL`;
  if (metricKey === null) {
    const col = SORT_SQL[name as RunSortColumn]?.col;
    if (!col) throw invalid("invalid query", [{ field: "sort", message: `cannot sort by ${name}` }]);
    sortValue = sql.raw(`r.${col}`);
  }
  const client = rawClient(tx);
  // One read transaction: the groups and the metric values come from the same snapshot.
  const all = client.transaction(() => {
    // SQLite groups by the stored parameter text (a sort over narrow keys); the few groups whose
    // texts differ only in key order then merge in memory under the canonical key. `min(r.id)` is
    // the only min/max aggregate, so the bare sort value is the first member's (SQLite's rule).
    const rows = tx.values<[string, string, string, string | null, string, string, number, string, SortValue]>(
      sql`SELECT r.model_id, r.dataset_id, r.runtime, r.hardware_key, r.method_id, r.params, min(r.id), group_concat(r.id), ${sortValue}
        FROM runs r ${where} GROUP BY r.model_id, r.dataset_id, r.runtime, r.hardware_key, r.method_id, r.params`,
    );
    const groups = new Map<string, Pending>();
    for (const [model, dataset, runtime, hw, method, params, first, idList, v] of rows) {
      const key = contextKey({ modelId: model, datasetId: dataset, runtime, hardwareKey: hw }) + methodParamsKeyOfText(method, params);
      const ids = idList.split(",").map(Number);
      const g = groups.get(key);
      if (!g) groups.set(key, { id: first, ids, value: v });
      else {
        g.ids.push(...ids);
        if (first < g.id) Object.assign(g, { id: first, value: v });
      }
    }
    const out = [...groups.values()];
    for (const g of out) g.ids.sort((a, b) => a - b);
    if (metricKey !== null) {
      const ids = out.flatMap((g) => g.ids);
      const metricOf =
        ids.length <= (opts.columnReadAbove ?? COLUMN_READ_ABOVE)
          ? sparseColumn(client, metricKey, ids)
          : metricColumn(
              client,
              metricKey,
              ids.reduce((m, id) => Math.max(m, id), 0),
            );
      for (const g of out) {
        let sum = 0;
        let count = 0;
        for (const id of g.ids) {
          const x = metricOf(id);
          if (x !== undefined) {
            sum += x;
            count++;
          }
        }
        g.value = count > 0 ? sum / count : null;
      }
    }
    return out;
  })();
  const runCount = all.reduce((n, g) => n + g.ids.length, 0);

  // Order: groups with a value by (value, id) in the sort's direction, then the rest by id.
  const sign = desc ? -1 : 1;
  const cmp = (a: { value: SortValue; id: number }, b: { value: SortValue; id: number }): number => {
    if ((a.value === null) !== (b.value === null)) return a.value === null ? 1 : -1;
    if (a.value !== null && b.value !== null && a.value !== b.value) return (a.value < b.value ? -1 : 1) * sign;
    return (a.id - b.id) * sign;
  };
  all.sort(cmp);
  const start = cur ? all.findIndex((g) => cmp(g, cur) > 0) : 0;
  const slice = start < 0 ? [] : all.slice(start, start + page.limit);
  const more = start >= 0 && start + page.limit < all.length;
  const last = slice[slice.length - 1];
  return {
    aggregate: "seeds",
    groups: groupDetails(slice, tx),
    nextCursor: more && last ? encodeCursor(cursorSort, last.value, last.id) : null,
    total: all.length,
    runs: runCount,
  };
}

/** The page's groups in full: setup of the first member, statuses, tags, seeds and metric mean ± sd. */
function groupDetails(page: Pending[], tx: Tx): RunGroup[] {
  const ids = page.flatMap((g) => g.ids);
  if (ids.length === 0) return [];
  // One JSON parameter, however many members: an IN list of bound values has a variable limit.
  const list = JSON.stringify(ids);
  const runs = new Map(
    tx
      .all<{
        id: number;
        method_id: string;
        family: string;
        params: string;
        model_id: string;
        dataset_id: string;
        runtime: string;
        hardware_key: string | null;
        status: RunStatus;
        tags: string;
        seed: number | null;
        created_at: number;
      }>(
        sql`SELECT id, method_id, family, params, model_id, dataset_id, runtime, hardware_key, status, tags, seed, created_at
          FROM runs WHERE id IN (SELECT value FROM json_each(${list}))`,
      )
      .map((r) => [r.id, r]),
  );
  const values = new Map<number, Map<string, number>>();
  for (const m of tx.all<{ run_id: number; key: string; value: number }>(
    sql`SELECT run_id, key, value FROM run_metrics WHERE run_id IN (SELECT value FROM json_each(${list}))`,
  )) {
    let v = values.get(m.run_id);
    if (!v) values.set(m.run_id, (v = new Map()));
    v.set(m.key, m.value);
  }
  return page.map((g) => {
    const first = runs.get(g.id)!;
    const statusCounts: Partial<Record<RunStatus, number>> = {};
    const tags = new Set<string>();
    const byKey = new Map<string, number[]>();
    let createdAt = first.created_at;
    for (const id of g.ids) {
      const r = runs.get(id)!;
      statusCounts[r.status] = (statusCounts[r.status] ?? 0) + 1;
      for (const t of JSON.parse(r.tags) as string[]) tags.add(t);
      createdAt = Math.max(createdAt, r.created_at);
      for (const [k, v] of values.get(id) ?? []) {
        const l = byKey.get(k);
        if (l) l.push(v);
        else byKey.set(k, [v]);
      }
    }
    const metrics: RunGroup["metrics"] = {};
    for (const [k, v] of [...byKey].sort(([a], [b]) => (a < b ? -1 : 1))) metrics[k] = { ...meanSd(v), n: v.length };
    return {
      id: g.id,
      methodId: first.method_id,
      family: first.family,
      params: JSON.parse(first.params) as Record<string, unknown>,
      modelId: first.model_id,
      datasetId: first.dataset_id,
      runtime: first.runtime,
      hardwareKey: first.hardware_key,
      runIds: g.ids,
      seeds: g.ids.map((id) => runs.get(id)!.seed),
      n: g.ids.length,
      statusCounts,
      tags: [...tags].sort(),
      createdAt,
      metrics,
    };
  });
}
