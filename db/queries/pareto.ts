import type Database from "better-sqlite3";
import { inArray, sql, type SQL } from "drizzle-orm";
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
import { rawClient } from "./raw";
import { RUN_ROW_COLUMNS as c } from "./run-row";

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

type Column = (id: number) => number | undefined;

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

/** Values of one metric by run id: a dense array while ids are dense, else a map. */
function metricColumn(client: Database.Database, key: string, maxId: number): Column {
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
    const contexts = contextsOf(filter, tx);
    const q = asked.y === PRIMARY_QUALITY ? { ...asked, y: primaryOf(contexts[0]?.datasetId, tx) } : asked;
    if (contexts.length <= 1) return paretoIn(client, filter, q, tx, before, contexts[0] ?? null, false, false);
    if (q.scope === "latest") return paretoIn(client, filter, q, tx, before, contexts[0], true, false);
    // Fronts never span contexts: one pass per context, merged with context-qualified group keys.
    const parts = contexts.map((c) => paretoIn(client, filter, q, tx, before, c, true, true));
    return q.x.map((_, i) =>
      mergeContexts(
        parts.map((p) => p[i]),
        contexts,
        q.maxDominated,
      ),
    );
  })();
}

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
  const pinned = filter.model.length === 1 && filter.dataset.length === 1 && filter.runtime.length === 1 && filter.hardware.length === 1;
  if (pinned) {
    const hardwareKey = filter.hardware[0] === NO_HARDWARE ? null : filter.hardware[0];
    const c = { modelId: filter.model[0], datasetId: filter.dataset[0], runtime: filter.runtime[0], hardwareKey };
    return [{ ...c, baselineRunId: contextBaseline(c, filter.includeSynthetic, tx) }];
  }
  return listContexts(filter, tx).map(({ runs: _runs, lastRunAt: _last, ...c }) => c);
}

/**
 * Every context of the finished runs matching `filter`, most recent first, with its run count (GET
 * /api/v1/contexts). Queued and running runs are left out: they have no hardware label until a
 * worker measures them, and no point to draw.
 */
export function listContexts(filter: RunFilter, tx: Tx = getDb()): ParetoContext[] {
  const rows = tx.all<{ modelId: string; datasetId: string; runtime: string; hardwareKey: string | null; runs: number; lastRunAt: number }>(
    sql`SELECT r.model_id AS modelId, r.dataset_id AS datasetId, r.runtime AS runtime, r.hardware_key AS hardwareKey,
      count(*) AS runs, max(r.created_at) AS lastRunAt
      FROM runs r WHERE ${andAll([...runFilterConditions(filter), sql`r.status IN ('succeeded', 'failed', 'canceled')`])}
      GROUP BY r.model_id, r.dataset_id, r.runtime, r.hardware_key ORDER BY max(r.created_at) DESC, max(r.id) DESC`,
  );
  return rows.map((c) => ({ ...c, baselineRunId: contextBaseline(c, filter.includeSynthetic, tx) }));
}

function contextBaseline(c: Pick<ParetoContext, "modelId" | "datasetId" | "runtime" | "hardwareKey">, synthetic: boolean, tx: Tx): number | null {
  const row = tx.get<{ id: number }>(sql`SELECT id FROM runs r WHERE r.method_id = 'baseline' AND r.status = 'succeeded'
    AND ${synthetic ? sql`1` : sql`r.synthetic = 0`} AND ${contextSql({ ...c, baselineRunId: null })}
    ORDER BY r.finished_at DESC, r.id DESC LIMIT 1`);
  return row?.id ?? null;
}

/** Joins per-context answers into one, keeping every context's groups, reference and sample apart. */
function mergeContexts(parts: ParetoResponse[], contexts: ParetoContext[], maxDominated: number): ParetoResponse {
  const dominated = parts.flatMap((p) => p.dominated);
  return {
    ...parts[0],
    reference: null,
    referenceSource: null,
    contexts,
    groups: parts.flatMap((p, ci) => p.groups.map((g) => ({ ...g, context: ci }))),
    dominated: evenSample(dominated, maxDominated),
    dominatedTotal: parts.reduce((n, p) => n + p.dominatedTotal, 0),
    total: parts.reduce((n, p) => n + p.total, 0),
  };
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

function paretoIn(
  client: Database.Database,
  filter: RunFilter,
  q: ParetoQuery,
  tx: Tx,
  before: string | null,
  context: ParetoContext | null,
  narrow: boolean,
  qualify: boolean,
): ParetoResponse[] {
  const dy = metricDirection(q.y);
  const maxId = tx.get<{ m: number | null }>(sql`SELECT max(id) AS m FROM runs`)?.m ?? 0;
  const cache = cacheFor(client, before);
  const yOf = cachedColumn(cache, client, q.y, maxId);
  const where = andAll([...runFilterConditions(filter), ...(context && narrow ? [contextSql(context)] : [])]);
  const g = groupColumn(q.group);
  // Run ids in (group, synthetic, id) order plus one count per group: both read the (group,
  // synthetic) index in its own order without touching the table or sorting, where ids in id
  // order with their group meant two table scans.
  const counts = tx.values<[string | null, number]>(sql`SELECT ${g}, count(*) FROM runs r WHERE ${where} GROUP BY ${g} ORDER BY ${g}`);
  const idsSql = new SQLiteSyncDialect().sqlToQuery(sql`SELECT r.id FROM runs r WHERE ${where} ORDER BY ${g}, r.synthetic, r.id`);
  const runIds = client
    .prepare(idsSql.sql)
    .pluck(true)
    .all(...idsSql.params) as number[];
  if (runIds.length !== counts.reduce((n, c) => n + c[1], 0)) throw new Error("runs changed during a Pareto read");
  // Group keys once (NULL and a literal "unknown" share one entry) and each run's group index.
  const keys: string[] = [];
  const runGroup = new Int32Array(runIds.length);
  let at = 0;
  for (const [groupValue, n] of counts) {
    const key = groupValue ?? UNKNOWN_GROUP;
    let gi = keys.indexOf(key);
    if (gi < 0) gi = keys.push(key) - 1;
    runGroup.fill(gi, at, at + n);
    at += n;
  }
  // The y values of the filtered runs, looked up once for every chart.
  const ys = new Float64Array(runIds.length);
  for (let i = 0; i < runIds.length; i++) ys[i] = yOf(runIds[i]) ?? NaN;

  const columns = new Map([[q.y, yOf]]);
  const column = (key: string) => columns.get(key) ?? columns.set(key, cachedColumn(cache, client, key, maxId)).get(key)!;
  // 95% intervals (`<key>_lo`, `<key>_hi`) of a charted metric, read only when any run has one.
  const hasKey = client.prepare("SELECT 1 FROM run_metrics WHERE key = ? LIMIT 1").pluck(true);
  const bounds = (key: string): Bounds | null => (hasKey.get(`${key}_lo`) === undefined ? null : { lo: column(`${key}_lo`), hi: column(`${key}_hi`) });
  const yb = bounds(q.y);
  const baseY = context?.baselineRunId ? yOf(context.baselineRunId) : undefined;
  const seeds = q.aggregate === "seeds" ? seedSets(tx, where, runIds) : null;
  const stats: Map<number, SeedStats>[] = [];
  const charts = q.x.map((x) => {
    const xOf = column(x);
    const baseX = context?.baselineRunId ? xOf(context.baselineRunId) : undefined;
    if (!seeds) return chartFor(xOf, x, dy, q, keys, runIds, runGroup, ys, { x: baseX, y: baseY });
    const a = aggregateSeeds(seeds, runIds, runGroup, ys, xOf);
    stats.push(a.stats);
    return chartFor((id) => a.stats.get(id)?.x, x, dy, q, keys, a.ids, a.group, a.ys, { x: baseX, y: baseY });
  });
  const suffix = context && qualify ? ` · ${contextLabel(context)}` : "";
  const details = frontDetails([...new Set(charts.flatMap((c) => c.groups.flatMap((gr) => gr.front.map((p) => p.id))))], tx);
  return charts.map((c, i) => {
    if (seeds) {
      // Means over seeds: the bounds are ± one standard deviation (none for a single run).
      const st = stats[i];
      const sd = <T extends { runId: number }>(p: T) => {
        const v = st.get(p.runId)!;
        return v.n > 1 ? { ...p, n: v.n, xLo: v.x - v.sx, xHi: v.x + v.sx, yLo: v.y - v.sy, yHi: v.y + v.sy } : { ...p, n: v.n };
      };
      return {
        x: { key: q.x[i], direction: metricDirection(q.x[i]) },
        y: { key: q.y, direction: dy },
        group: q.group,
        aggregate: "seeds" as const,
        reference: c.reference,
        referenceSource: c.referenceSource,
        contexts: context ? [context] : [],
        groups: c.groups.map((gr) => ({
          key: gr.key + suffix,
          context: 0,
          reference: c.reference,
          referenceSource: c.referenceSource,
          front: gr.front.map((p): FrontPoint => sd({ ...details.get(p.id)!, runId: p.id, runIds: st.get(p.id)!.ids, x: p.x, y: p.y })),
          hypervolume: gr.hypervolume,
          count: gr.count,
        })),
        dominated: c.dominated.map((p): DominatedPoint => sd({ ...p, group: p.group + suffix })),
        dominatedTotal: c.dominatedTotal,
        total: c.total,
      };
    }
    const xb = bounds(q.x[i]);
    return {
      x: { key: q.x[i], direction: metricDirection(q.x[i]) },
      y: { key: q.y, direction: dy },
      group: q.group,
      aggregate: "none" as const,
      reference: c.reference,
      referenceSource: c.referenceSource,
      contexts: context ? [context] : [],
      groups: c.groups.map((gr) => ({
        key: gr.key + suffix,
        context: 0,
        reference: c.reference,
        referenceSource: c.referenceSource,
        front: gr.front.map((p): FrontPoint => withBounds({ ...details.get(p.id)!, runId: p.id, x: p.x, y: p.y }, xb, yb)),
        hypervolume: gr.hypervolume,
        count: gr.count,
      })),
      dominated: (xb || yb ? c.dominated.map((p): DominatedPoint => withBounds(p, xb, yb)) : c.dominated).map((p) =>
        suffix ? { ...p, group: p.group + suffix } : p,
      ),
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
 * Which runs differ only by seed: each run's index into sets of runs with the same method and
 * parameters (the context is one per pass, so model, dataset, runtime and hardware agree too).
 * Parameters compare as canonical JSON (keys sorted), so key order in a logged body does not split a set.
 */
function seedSets(tx: Tx, where: SQL, runIds: number[]): Int32Array {
  const rows = tx.all<{ id: number; m: string; p: string }>(sql`SELECT r.id AS id, r.method_id AS m, r.params AS p FROM runs r WHERE ${where}`);
  const canonical = (v: unknown): unknown =>
    v && typeof v === "object" && !Array.isArray(v)
      ? Object.fromEntries(
          Object.entries(v as Record<string, unknown>)
            .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
            .map(([k, x]) => [k, canonical(x)]),
        )
      : v;
  const keyOf = new Map<number, string>();
  for (const r of rows) {
    let params: unknown = null;
    try {
      params = JSON.parse(r.p);
    } catch {
      params = r.p;
    }
    keyOf.set(r.id, `${r.m}\u0000${JSON.stringify(canonical(params))}`);
  }
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
  const members = new Map<number, number[]>(); // set -> indexes into runIds with both metrics
  for (let i = 0; i < runIds.length; i++) {
    if (Number.isNaN(ys[i]) || xOf(runIds[i]) === undefined) continue;
    const m = members.get(set[i]);
    if (m) m.push(i);
    else members.set(set[i], [i]);
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
  runIds: number[],
  runGroup: Int32Array,
  ys: Float64Array,
  base: { x: number | undefined; y: number | undefined },
) {
  const dx = metricDirection(xKey);
  // Columnar per group (ids, x, y), and every point as a (group, index) pair: no object per point
  // until the answer is built.
  const cols = keys.map((key) => ({ key, ids: [] as number[], xs: [] as number[], ys: [] as number[] }));
  const ptGroup: number[] = [];
  const ptIndex: number[] = [];
  let wx = -Infinity,
    wy = -Infinity; // worst per axis, as "lower is better" values
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
    if (sx * x > wx) wx = sx * x;
    if (sy * y > wy) wy = sy * y;
  }
  const total = ptGroup.length;
  const { reference, source: referenceSource } = referenceOf(q, base, total > 0 ? { x: sx * wx, y: sy * wy } : null, dx, dy);

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
  return { reference, referenceSource, groups, dominated: sample, dominatedTotal: dominated.length, total };
}

type Detail = Omit<FrontPoint, "runId" | "x" | "y">;

function frontDetails(ids: number[], tx: Tx): Map<number, Detail> {
  const out = new Map<number, Detail>();
  for (let i = 0; i < ids.length; i += 500) {
    const chunk = ids.slice(i, i + 500);
    const rows = tx
      .select({
        id: c.id,
        methodId: c.methodId,
        family: c.family,
        params: c.params,
        modelId: c.modelId,
        datasetId: c.datasetId,
        runtime: c.runtime,
        hardwareKey: c.hardwareKey,
      })
      .from(runs)
      .where(inArray(runs.id, chunk))
      .all();
    for (const { id, ...detail } of rows) out.set(id, detail);
  }
  return out;
}
