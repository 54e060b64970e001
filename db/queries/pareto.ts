import type Database from "better-sqlite3";
import { sql, type SQL } from "drizzle-orm";
import { SQLiteSyncDialect } from "drizzle-orm/sqlite-core";
import { getDb, type Tx } from "../client";
import { runs } from "../schema";
import type { DatasetTask } from "../../lib/domain";
import { metricDirection, PRIMARY_QUALITY, primaryQualityMetric } from "../../lib/metrics";
import { evenSample, hypervolume, PARETO_GROUP_FIELD, paretoFrontIndices, UNKNOWN_GROUP, type XY } from "../../lib/pareto";
import type { RunFilter } from "../../lib/schemas/filters";
import {
  BOUND_KEYS,
  contextLabel,
  type ParetoContext,
  NO_HARDWARE,
  REFERENCE_MARGIN,
  type DominatedPoint,
  type FrontPoint,
  type ParetoChart,
  type ParetoChartsResponse,
  isParamGroup,
  type ParetoColumnGroup,
  type ParetoGroupBy,
  type ParetoQuery,
  type ParetoResponse,
} from "../../lib/schemas/pareto";
import { andAll, runFilterConditions } from "./run-filter";
import { methodParamsKeyOfText } from "../../lib/seed-sets";
import { rawClient } from "./raw";
import { type Column, metricColumn, sparseColumn } from "./metric-columns";

/**
 * The SQL a grouping reads: a run column, or a parameter's value as text (numbers as JSON writes
 * them, booleans as 1/0: paramGroupValue on the client gives the same keys).
 */
const groupColumn = (by: ParetoGroupBy): SQL =>
  isParamGroup(by)
    ? sql`CAST(json_extract(r.params, ${`$."${by.slice(6)}"`}) AS TEXT)`
    : sql.raw(`r.${runs[PARETO_GROUP_FIELD[by as ParetoColumnGroup]].name}`);

interface P extends XY {
  id: number;
  g: string;
}

/**
 * Metric columns already read, per connection, valid for one database version: the pair
 * (`PRAGMA data_version`, `total_changes()`). data_version moves when another connection commits,
 * total_changes() when this one writes (a statement that changes no row moves neither, so the
 * lease reaping before reads does not empty the cache), so any write makes every cached column
 * unreachable and an answer is never built from values older than the snapshot it reads. Only the
 * columns are kept: the filter, the groups and the fronts are computed anew on every request.
 */
interface ColumnCache {
  version: string;
  columns: Map<string, Column>; // insertion order is recency order
}
const MAX_CACHED_COLUMNS = 16; // 16 dense columns over 100k runs: about 13 MB
const columnCaches = new WeakMap<Database.Database, ColumnCache>();
// WeakMap has no clear(): bumping this generation, part of every version, orphans all entries.
let cleared = 0;

/** Switches the metric column cache off (or back on) and empties it: for tests and benchmarks. */
export const paretoColumnCache = {
  enabled: true,
  clear(client?: Database.Database): void {
    if (client) columnCaches.delete(client);
    else cleared++;
  },
};

function dbVersion(client: Database.Database): string {
  const dv = client.pragma("data_version", { simple: true }) as number;
  const tc = client.prepare("SELECT total_changes()").pluck(true).get() as number;
  return `${cleared}:${dv}:${tc}`;
}

/** Runs up to which a one-context pass reads values by primary key instead of whole columns. */
const SPARSE_MAX = 20_000;

/**
 * Pareto fronts per group for two metrics over every run matching the filter, then an O(n log n)
 * sweep per group; only front runs are read in full. The points are gathered by a hash join in
 * memory over sequential scans (x and y from the covering run_metrics_key_value index, the
 * filtered runs with their group) rather than one SQL join: SQLite answers a join with a b-tree
 * search per row, which on 100k runs cost several times more (docs/BENCHMARKS.md, Tracker).
 *
 * One x metric answers a single chart; several (`x=a,b`) answer `{ charts }`, one per x in the order
 * asked, reading the y column, the filtered runs and their groups once for all of them.
 */
export function paretoFronts(filter: RunFilter, q: ParetoQuery, tx: Tx = getDb()): ParetoResponse | ParetoChartsResponse {
  const charts = paretoChartsFor(filter, q, tx);
  return q.x.length === 1 ? charts[0] : { charts: charts.map(columnar) };
}

function columnar(c: ParetoResponse): ParetoChart {
  const index = new Map(c.groups.map((g, i) => [g.key, i]));
  const d = c.dominated;
  const out: ParetoChart = {
    ...c,
    dominated: { runId: d.map((p) => p.runId), x: d.map((p) => p.x), y: d.map((p) => p.y), group: d.map((p) => index.get(p.group)!) },
  };
  // A bound column only where some sampled point has that bound: charts without intervals stay as small as before.
  for (const k of BOUND_KEYS) if (d.some((p) => p[k] !== undefined)) out.dominated[k] = d.map((p) => p[k] ?? null);
  return out;
}

interface Bounds {
  lo: Column;
  hi: Column;
}

/** Adds the interval bounds of x and y (when their metrics have any) to a point, in place. */
function withBounds<T extends { runId: number } & Partial<Record<(typeof BOUND_KEYS)[number], number>>>(p: T, xb: Bounds | null, yb: Bounds | null): T {
  for (const [b, lo, hi] of [
    [xb, "xLo", "xHi"],
    [yb, "yLo", "yHi"],
  ] as const) {
    if (!b) continue;
    const l = b.lo(p.runId);
    const h = b.hi(p.runId);
    if (l !== undefined && h !== undefined) {
      p[lo] = l;
      p[hi] = h;
    }
  }
  return p;
}

/** One chart per x metric of `q`, in order. */
export function paretoChartsFor(filter: RunFilter, asked: ParetoQuery, tx: Tx = getDb()): ParetoResponse[] {
  const client = rawClient(tx);
  // Inside a caller's transaction the version cannot be trusted: total_changes() does not go back
  // when uncommitted writes are rolled back, so values read there could outlive them.
  const before = paretoColumnCache.enabled && !client.inTransaction ? dbVersion(client) : null;
  // One read transaction, so the separate scans see the same snapshot.
  return client.transaction(() => {
    const contexts = asked.scope === "latest" ? latestContext(filter, tx) : contextsOf(filter, tx);
    const q = asked.y === PRIMARY_QUALITY ? { ...asked, y: primaryOf(contexts[0]?.datasetId, tx) } : asked;
    // Metric columns are read once per request and shared by every context's pass.
    const maxId = tx.get<{ m: number | null }>(sql`SELECT max(id) AS m FROM runs`)?.m ?? 0;
    const cache = cacheFor(client, before);
    const columns = new Map<string, Column>();
    // One pass over a few runs (one context of many) looks their values up by primary key; a
    // full column (cached across requests) pays off only when most runs are read.
    const onePass = contexts.length <= 1;
    const column = (key: string, ids: readonly number[]): Column => {
      const hit = columns.get(key) ?? cache?.columns.get(key);
      if (hit) return hit;
      const col = onePass && ids.length <= SPARSE_MAX ? sparseColumn(client, key, ids) : cachedColumn(cache, client, key, maxId);
      columns.set(key, col);
      return col;
    };
    // scope=latest narrows to its context (an index seek on runs_context); several contexts are
    // read in one pass grouped by context first, so fronts never span two.
    return paretoIn(client, filter, q, tx, column, contexts, asked.scope === "latest" && contexts.length === 1 && !pinned(filter));
  })();
}

const pinned = (f: RunFilter) => f.model.length === 1 && f.dataset.length === 1 && f.runtime.length === 1 && f.hardware.length === 1;

/**
 * The context of the most recent finished run matching `filter` (scope=latest), without listing
 * every context: one ordered read that stops at the first row.
 */
function latestContext(filter: RunFilter, tx: Tx): ParetoContext[] {
  if (pinned(filter)) return contextsOf(filter, tx);
  const c = tx.get<{ modelId: string; datasetId: string; runtime: string; hardwareKey: string | null }>(
    sql`SELECT r.model_id AS modelId, r.dataset_id AS datasetId, r.runtime AS runtime, r.hardware_key AS hardwareKey
      FROM runs r WHERE ${andAll([...runFilterConditions(filter), FINISHED])} ORDER BY r.created_at DESC, r.id DESC LIMIT 1`,
  );
  return c ? [{ ...c, baselineRunId: baselinesOf([c], filter.includeSynthetic, tx)[0] }] : [];
}

const FINISHED = sql`r.status IN ('succeeded', 'failed', 'canceled')`;

/** The primary quality metric of a dataset's task (perplexity when the dataset is not registered). */
function primaryOf(datasetId: string | undefined, tx: Tx): string {
  const task = datasetId === undefined ? undefined : tx.get<{ task: DatasetTask }>(sql`SELECT task FROM datasets WHERE id = ${datasetId}`)?.task;
  return task ? primaryQualityMetric(task) : "perplexity";
}

const contextSql = (c: ParetoContext): SQL =>
  sql`r.model_id = ${c.modelId} AND r.dataset_id = ${c.datasetId} AND r.runtime = ${c.runtime} AND r.hardware_key IS ${c.hardwareKey}`;

/**
 * The (model, dataset, runtime, hardware) contexts of the runs matching `filter`, most recent
 * first, each with its latest succeeded baseline run. A filter naming one value of each is one
 * context without a scan.
 */
export function contextsOf(filter: RunFilter, tx: Tx = getDb()): ParetoContext[] {
  if (pinned(filter)) {
    const hardwareKey = filter.hardware[0] === NO_HARDWARE ? null : filter.hardware[0];
    const c = { modelId: filter.model[0], datasetId: filter.dataset[0], runtime: filter.runtime[0], hardwareKey };
    return [{ ...c, baselineRunId: baselinesOf([c], filter.includeSynthetic, tx)[0] }];
  }
  return listContexts(filter, tx).map(({ runs: _runs, lastRunAt: _last, ...c }) => c);
}

/**
 * Every context of the finished runs matching `filter`, most recent first, with its run count (GET
 * /api/v1/contexts). Queued and running runs are left out: they have no hardware label until a
 * worker measures them, and no point to draw. The grouping reads runs_context in its own order.
 */
export function listContexts(filter: RunFilter, tx: Tx = getDb()): ParetoContext[] {
  const rows = tx.all<{ modelId: string; datasetId: string; runtime: string; hardwareKey: string | null; runs: number; lastRunAt: number; lastId: number }>(
    sql`SELECT r.model_id AS modelId, r.dataset_id AS datasetId, r.runtime AS runtime, r.hardware_key AS hardwareKey,
      count(*) AS runs, max(r.created_at) AS lastRunAt, max(r.id) AS lastId
      FROM runs r INDEXED BY runs_context WHERE ${andAll([...runFilterConditions(filter), FINISHED])}
      GROUP BY r.model_id, r.dataset_id, r.runtime, r.hardware_key`,
  );
  rows.sort((a, b) => b.lastRunAt - a.lastRunAt || b.lastId - a.lastId);
  const baselines = baselinesOf(rows, filter.includeSynthetic, tx);
  return rows.map(({ lastId: _id, ...c }, i) => ({ ...c, baselineRunId: baselines[i] }));
}

/**
 * The latest succeeded baseline run of each context, in one read of the baseline runs (the
 * runs_method_synthetic index) rather than one query per context.
 */
function baselinesOf(cs: readonly Pick<ParetoContext, "modelId" | "datasetId" | "runtime" | "hardwareKey">[], synthetic: boolean, tx: Tx): (number | null)[] {
  if (cs.length === 0) return [];
  const key = (c: { modelId: string; datasetId: string; runtime: string; hardwareKey: string | null }) =>
    `${c.modelId}\u0000${c.datasetId}\u0000${c.runtime}\u0000${c.hardwareKey ?? "\u0001"}`;
  const wanted = new Map(cs.map((c, i) => [key(c), i]));
  const out: (number | null)[] = cs.map(() => null);
  const best: number[] = cs.map(() => -Infinity);
  const one = cs.length === 1 ? cs[0] : null;
  const rows = tx.all<{ id: number; modelId: string; datasetId: string; runtime: string; hardwareKey: string | null; finishedAt: number | null }>(
    sql`SELECT r.id AS id, r.model_id AS modelId, r.dataset_id AS datasetId, r.runtime AS runtime, r.hardware_key AS hardwareKey, r.finished_at AS finishedAt
      FROM runs r WHERE r.method_id = 'baseline' AND r.status = 'succeeded' AND ${synthetic ? sql`1` : sql`r.synthetic = 0`}
      ${one ? sql`AND ${contextSql({ ...one, baselineRunId: null })}` : sql``}`,
  );
  for (const r of rows) {
    const i = wanted.get(key(r));
    if (i === undefined) continue;
    // latest finished first, then the highest id (as findBaselineRun orders)
    const rank = (r.finishedAt ?? -1) * 1e9 + r.id;
    if (rank > best[i]) {
      best[i] = rank;
      out[i] = r.id;
    }
  }
  return out;
}

/**
 * A context's hypervolume reference: the query's refX/refY, else its baseline's values worsened by
 * REFERENCE_MARGIN (fixed as runs arrive), else the worst value per axis over the points.
 */
function referenceOf(
  q: ParetoQuery,
  base: { x: number | undefined; y: number | undefined },
  worst: { x: number; y: number } | null,
  dx: "higher" | "lower",
  dy: "higher" | "lower",
): { reference: { x: number; y: number } | null; source: ParetoResponse["referenceSource"] } {
  if (q.refX !== undefined && q.refY !== undefined) return { reference: { x: q.refX, y: q.refY }, source: "query" };
  const worsen = (v: number, d: "higher" | "lower") => v + (d === "lower" ? 1 : -1) * REFERENCE_MARGIN * Math.abs(v);
  if (base.x !== undefined && base.y !== undefined && base.x !== 0 && base.y !== 0) {
    return {
      reference: { x: q.refX ?? worsen(base.x, dx), y: q.refY ?? worsen(base.y, dy) },
      source: q.refX !== undefined || q.refY !== undefined ? "query" : "baseline",
    };
  }
  if (!worst) return { reference: null, source: null };
  return { reference: { x: q.refX ?? worst.x, y: q.refY ?? worst.y }, source: q.refX !== undefined || q.refY !== undefined ? "query" : "worst-point" };
}

/**
 * The cached columns for this read, or null to read every column afresh. The version read before
 * the transaction must equal the one read once its snapshot is taken (after the first SELECT): a
 * commit landing in between would otherwise tag this snapshot's columns with a newer version.
 */
function cacheFor(client: Database.Database, before: string | null): ColumnCache | null {
  if (before === null || dbVersion(client) !== before) return null;
  let cache = columnCaches.get(client);
  if (!cache || cache.version !== before) columnCaches.set(client, (cache = { version: before, columns: new Map() }));
  return cache;
}

function cachedColumn(cache: ColumnCache | null, client: Database.Database, key: string, maxId: number): Column {
  if (!cache) return metricColumn(client, key, maxId);
  let col = cache.columns.get(key);
  if (col) {
    cache.columns.delete(key);
  } else {
    col = metricColumn(client, key, maxId);
    if (cache.columns.size >= MAX_CACHED_COLUMNS) cache.columns.delete(cache.columns.keys().next().value!);
  }
  cache.columns.set(key, col);
  return col;
}

/**
 * Fronts of the runs matching `filter` within `contexts` (none: the filter's runs are one
 * context, or none has finished). With several contexts one pass reads them all, grouped by
 * (context, group): every group lies in one context, keyed "<group> · <context label>", and its
 * hypervolume is measured against its own context's reference. Runs outside the listed contexts
 * (queued or running, no hardware label yet) are left out.
 */
function paretoIn(
  client: Database.Database,
  filter: RunFilter,
  q: ParetoQuery,
  tx: Tx,
  columnOf: (key: string, ids: readonly number[]) => Column,
  contexts: ParetoContext[],
  narrow: boolean,
): ParetoResponse[] {
  const dy = metricDirection(q.y);
  const multi = contexts.length > 1;
  const where = andAll([...runFilterConditions(filter), ...(narrow && contexts.length === 1 ? [contextSql(contexts[0])] : [])]);
  const g = groupColumn(q.group);
  // Group keys once (NULL and a literal "unknown" share one entry per context) and each run's group.
  const keys: string[] = [];
  const keyCtx: number[] = [];
  const runIds: number[] = [];
  const groupOf: number[] = [];
  if (!multi) {
    // Run ids in (group, synthetic, id) order plus one count per group: both read the (group,
    // synthetic) index in its own order without touching the table or sorting, where ids in id
    // order with their group meant two table scans.
    const counts = tx.values<[string | null, number]>(sql`SELECT ${g}, count(*) FROM runs r WHERE ${where} GROUP BY ${g} ORDER BY ${g}`);
    const idsSql = new SQLiteSyncDialect().sqlToQuery(sql`SELECT r.id FROM runs r WHERE ${where} ORDER BY ${g}, r.synthetic, r.id`);
    const allIds = client
      .prepare(idsSql.sql)
      .pluck(true)
      .all(...idsSql.params) as number[];
    if (allIds.length !== counts.reduce((n, c) => n + c[1], 0)) throw new Error("runs changed during a Pareto read");
    let at = 0;
    for (const [groupValue, n] of counts) {
      const key = groupValue ?? UNKNOWN_GROUP;
      let gi = keys.indexOf(key);
      if (gi < 0) gi = keys.push(key) - 1;
      keyCtx[gi] = 0;
      for (let k = at; k < at + n; k++) {
        runIds.push(allIds[k]);
        groupOf.push(gi);
      }
      at += n;
    }
  } else {
    // Several contexts: one read of (id, context, group) in runs_context order (no sort in SQL),
    // bucketed here by (context, group) and ordered by group value then run id, as one context's pass orders them.
    const rowsSql = new SQLiteSyncDialect().sqlToQuery(sql`SELECT r.id, r.model_id, r.dataset_id, r.runtime, r.hardware_key, ${g} FROM runs r WHERE ${where}`);
    const rows = client
      .prepare(rowsSql.sql)
      .raw(true)
      .all(...rowsSql.params) as [number, string, string, string, string | null, string | null][];
    const ctxIndex = new Map(contexts.map((c, i) => [`${c.modelId}\u0000${c.datasetId}\u0000${c.runtime}\u0000${c.hardwareKey ?? "\u0001"}`, i]));
    const buckets = new Map<string, { ci: number; value: string; ids: number[] }>();
    for (const [id, m, d, rt, hw, v] of rows) {
      const ci = ctxIndex.get(`${m}\u0000${d}\u0000${rt}\u0000${hw ?? "\u0001"}`);
      if (ci === undefined) continue; // a queued or running run: no context yet
      const value = v ?? UNKNOWN_GROUP;
      const bk = `${ci}\u0000${value}`;
      let b = buckets.get(bk);
      if (!b) buckets.set(bk, (b = { ci, value, ids: [] }));
      b.ids.push(id);
    }
    const ordered = [...buckets.values()].sort((x, y) => x.ci - y.ci || (x.value < y.value ? -1 : x.value > y.value ? 1 : 0));
    for (const b of ordered) {
      const gi = keys.push(`${b.value} · ${contextLabel(contexts[b.ci])}`) - 1;
      keyCtx.push(b.ci);
      b.ids.sort((x, y) => x - y);
      for (const id of b.ids) {
        runIds.push(id);
        groupOf.push(gi);
      }
    }
  }
  const runGroup = Int32Array.from(groupOf);
  // Metric values of these runs (and of the contexts' baselines, the hypervolume references).
  const baseIds = contexts.flatMap((c) => (c.baselineRunId ? [c.baselineRunId] : []));
  const lookupIds = baseIds.length ? [...runIds, ...baseIds] : runIds;
  const column = (key: string) => columnOf(key, lookupIds);
  const yOf = column(q.y);
  // The y values of the filtered runs, looked up once for every chart.
  const ys = new Float64Array(runIds.length);
  for (let i = 0; i < runIds.length; i++) ys[i] = yOf(runIds[i]) ?? NaN;

  // 95% intervals (`<key>_lo`, `<key>_hi`) of a charted metric, read only when any run has one.
  const hasKey = client.prepare("SELECT 1 FROM run_metrics WHERE key = ? LIMIT 1").pluck(true);
  const bounds = (key: string): Bounds | null => (hasKey.get(`${key}_lo`) === undefined ? null : { lo: column(`${key}_lo`), hi: column(`${key}_hi`) });
  const yb = bounds(q.y);
  const nCtx = Math.max(1, contexts.length);
  const baseOf = (xOf: Column) =>
    Array.from({ length: nCtx }, (_, ci) => {
      const b = contexts[ci]?.baselineRunId;
      return { x: b ? xOf(b) : undefined, y: b ? yOf(b) : undefined };
    });
  const seeds = q.aggregate === "seeds" ? seedSets(tx, where, runIds) : null;
  const stats: Map<number, SeedStats>[] = [];
  const charts = q.x.map((x) => {
    const xOf = column(x);
    if (!seeds) return chartFor(xOf, x, dy, q, keys, keyCtx, runIds, runGroup, ys, baseOf(xOf));
    const a = aggregateSeeds(seeds, runIds, runGroup, ys, xOf);
    stats.push(a.stats);
    return chartFor((id) => a.stats.get(id)?.x, x, dy, q, keys, keyCtx, a.ids, a.group, a.ys, baseOf(xOf));
  });
  const details = frontDetails([...new Set(charts.flatMap((c) => c.groups.flatMap((gr) => gr.front.map((p) => p.id))))], tx);
  return charts.map((c, i) => {
    const st = seeds ? stats[i] : null;
    // Means over seeds: the bounds are ± one standard deviation (none for a single run).
    const sd = <T extends { runId: number }>(p: T) => {
      const v = st!.get(p.runId)!;
      return v.n > 1 ? { ...p, n: v.n, xLo: v.x - v.sx, xHi: v.x + v.sx, yLo: v.y - v.sy, yHi: v.y + v.sy } : { ...p, n: v.n };
    };
    const xb = st ? null : bounds(q.x[i]);
    const top = multi ? { reference: null, referenceSource: null } : (c.refs[0] ?? { reference: null, referenceSource: null });
    return {
      x: { key: q.x[i], direction: metricDirection(q.x[i]) },
      y: { key: q.y, direction: dy },
      group: q.group,
      aggregate: st ? ("seeds" as const) : ("none" as const),
      reference: top.reference,
      referenceSource: top.referenceSource,
      contexts,
      groups: c.groups.map((gr) => ({
        key: gr.key,
        context: gr.context,
        reference: c.refs[gr.context].reference,
        referenceSource: c.refs[gr.context].referenceSource,
        front: gr.front.map(
          (p): FrontPoint =>
            st
              ? sd({ ...details.get(p.id)!, runId: p.id, runIds: st.get(p.id)!.ids, x: p.x, y: p.y })
              : withBounds({ ...details.get(p.id)!, runId: p.id, x: p.x, y: p.y }, xb, yb),
        ),
        hypervolume: gr.hypervolume,
        count: gr.count,
      })),
      dominated: st ? c.dominated.map((p): DominatedPoint => sd(p)) : xb || yb ? c.dominated.map((p): DominatedPoint => withBounds(p, xb, yb)) : c.dominated,
      dominatedTotal: c.dominatedTotal,
      total: c.total,
    };
  });
}

interface SeedStats {
  /** Runs averaged (those with both metrics), first id first. */
  ids: number[];
  n: number;
  x: number;
  y: number;
  /** Sample standard deviations (0 for one run). */
  sx: number;
  sy: number;
}

/**
 * Which runs differ only by seed (lib/seed-sets.ts): each run's index into sets of runs with the
 * same method and parameters (the context is one per pass, so model, dataset, runtime and hardware
 * agree too).
 */
function seedSets(tx: Tx, where: SQL, runIds: number[]): Int32Array {
  const rows = tx.all<{ id: number; m: string; p: string }>(sql`SELECT r.id AS id, r.method_id AS m, r.params AS p FROM runs r WHERE ${where}`);
  const keyOf = new Map<number, string>();
  for (const r of rows) keyOf.set(r.id, methodParamsKeyOfText(r.m, r.p));
  const index = new Map<string, number>();
  const out = new Int32Array(runIds.length);
  for (let i = 0; i < runIds.length; i++) {
    const k = keyOf.get(runIds[i]) ?? `#${runIds[i]}`;
    let at = index.get(k);
    if (at === undefined) index.set(k, (at = index.size));
    out[i] = at;
  }
  return out;
}

/** One point per seed set with both metrics: the mean of each, its sd, and the set's first run as its id. */
function aggregateSeeds(set: Int32Array, runIds: number[], runGroup: Int32Array, ys: Float64Array, xOf: Column) {
  // (set, group) -> indexes into runIds with both metrics; groups lie in one context, so runs of
  // two contexts with the same method and parameters never average together.
  const members = new Map<string, number[]>();
  for (let i = 0; i < runIds.length; i++) {
    if (Number.isNaN(ys[i]) || xOf(runIds[i]) === undefined) continue;
    const k = `${set[i]}:${runGroup[i]}`;
    const m = members.get(k);
    if (m) m.push(i);
    else members.set(k, [i]);
  }
  const ids: number[] = [];
  const group: number[] = [];
  const yMeans: number[] = [];
  const stats = new Map<number, SeedStats>();
  const meanSd = (v: number[]) => {
    const mean = v.reduce((a, b) => a + b, 0) / v.length;
    const sd = v.length > 1 ? Math.sqrt(v.reduce((a, b) => a + (b - mean) ** 2, 0) / (v.length - 1)) : 0;
    return [mean, sd];
  };
  for (const idx of members.values()) {
    const id = runIds[idx[0]];
    const [x, sx] = meanSd(idx.map((i) => xOf(runIds[i])!));
    const [y, sy] = meanSd(idx.map((i) => ys[i]));
    ids.push(id);
    group.push(runGroup[idx[0]]);
    yMeans.push(y);
    stats.set(id, { ids: idx.map((i) => runIds[i]), n: idx.length, x, y, sx, sy });
  }
  return { ids, group: Int32Array.from(group), ys: Float64Array.from(yMeans), stats };
}

function chartFor(
  xOf: (id: number) => number | undefined,
  xKey: string,
  dy: "higher" | "lower",
  q: ParetoQuery,
  keys: string[],
  keyCtx: number[],
  runIds: number[],
  runGroup: Int32Array,
  ys: Float64Array,
  base: { x: number | undefined; y: number | undefined }[],
) {
  const dx = metricDirection(xKey);
  // Columnar per group (ids, x, y), and every point as a (group, index) pair: no object per point
  // until the answer is built.
  const cols = keys.map((key) => ({ key, ids: [] as number[], xs: [] as number[], ys: [] as number[] }));
  const ptGroup: number[] = [];
  const ptIndex: number[] = [];
  // worst per axis and context, as "lower is better" values
  const wx = base.map(() => -Infinity);
  const wy = base.map(() => -Infinity);
  const seen = base.map(() => false);
  const sx = dx === "lower" ? 1 : -1;
  const sy = dy === "lower" ? 1 : -1;
  for (let i = 0; i < runIds.length; i++) {
    const y = ys[i];
    if (Number.isNaN(y)) continue;
    const id = runIds[i];
    const x = xOf(id);
    if (x === undefined) continue;
    const gi = runGroup[i];
    const c = cols[gi];
    ptGroup.push(gi);
    ptIndex.push(c.ids.length);
    c.ids.push(id);
    c.xs.push(x);
    c.ys.push(y);
    const ci = keyCtx[gi];
    seen[ci] = true;
    if (sx * x > wx[ci]) wx[ci] = sx * x;
    if (sy * y > wy[ci]) wy[ci] = sy * y;
  }
  const total = ptGroup.length;
  const refs = base.map((b, ci) => {
    const r = referenceOf(q, b, seen[ci] ? { x: sx * wx[ci], y: sy * wy[ci] } : null, dx, dy);
    return { reference: r.reference, referenceSource: r.source };
  });

  const groups: { key: string; context: number; front: P[]; hypervolume: number; count: number }[] = [];
  const onFront = cols.map((c) => new Uint8Array(c.ids.length));
  cols.forEach((c, gi) => {
    if (c.ids.length === 0) return; // a group whose runs lack x or y
    const front = paretoFrontIndices(c.xs, c.ys, dx, dy).map((i) => {
      onFront[gi][i] = 1;
      return { id: c.ids[i], x: c.xs[i], y: c.ys[i], g: c.key };
    });
    const ref = refs[keyCtx[gi]].reference;
    groups.push({ key: c.key, context: keyCtx[gi], front, hypervolume: ref ? hypervolume(front, ref, dx, dy) : 0, count: c.ids.length });
  });
  groups.sort((a, b) => a.context - b.context || b.hypervolume - a.hypervolume || a.key.localeCompare(b.key));
  // Dominated points in (group value, run id) order, so the same query draws the same sample.
  const dominated: number[] = [];
  for (let p = 0; p < total; p++) if (onFront[ptGroup[p]][ptIndex[p]] === 0) dominated.push(p);
  const sample = evenSample(dominated, q.maxDominated).map((p) => {
    const c = cols[ptGroup[p]];
    const i = ptIndex[p];
    return { runId: c.ids[i], x: c.xs[i], y: c.ys[i], group: c.key };
  });
  return { refs, groups, dominated: sample, dominatedTotal: dominated.length, total };
}

type Detail = Omit<FrontPoint, "runId" | "x" | "y">;

function frontDetails(ids: number[], tx: Tx): Map<number, Detail> {
  const out = new Map<number, Detail>();
  // A raw prepared read by primary key: front points of every context can be thousands, and the
  // query builder's per-row mapping cost several times the lookups themselves.
  const get = rawClient(tx).prepare("SELECT method_id, family, params, model_id, dataset_id, runtime, hardware_key FROM runs WHERE id = ?").raw(true);
  for (const id of ids) {
    const r = get.get(id) as [string, string, string, string, string, string, string | null] | undefined;
    if (!r) continue;
    let params: Record<string, unknown> = {};
    try {
      params = JSON.parse(r[2]) as Record<string, unknown>;
    } catch {
      // a row written outside the API with broken JSON: shown without parameters
    }
    out.set(id, { methodId: r[0], family: r[1], params, modelId: r[3], datasetId: r[4], runtime: r[5], hardwareKey: r[6] });
  }
  return out;
}
