import { sql, type SQL } from "drizzle-orm";
import type { RunFilter, MetricOp } from "../../lib/schemas/filters";
import { NO_HARDWARE } from "../../lib/schemas/pareto";

const OP_SQL: Record<MetricOp, SQL> = {
  gte: sql.raw(">="),
  lte: sql.raw("<="),
  gt: sql.raw(">"),
  lt: sql.raw("<"),
  eq: sql.raw("="),
};

const COLUMN: Record<"family" | "method" | "status" | "model" | "dataset" | "runtime" | "hardware" | "experiment", string> = {
  family: "family",
  method: "method_id",
  status: "status",
  model: "model_id",
  dataset: "dataset_id",
  runtime: "runtime",
  hardware: "hardware_key",
  experiment: "experiment_id",
};

const inList = (values: readonly (string | number)[]) =>
  sql.join(
    values.map((v) => sql`${v}`),
    sql`, `,
  );

/**
 * The WHERE conditions of a run filter over `runs` aliased as `alias`. A metric range is either
 * one range scan of run_metrics_key_value (key, value, run_id) into a set ("in": for queries that
 * visit every match; the set is built once, not per row) or a primary-key lookup on (run_id, key)
 * per candidate row ("exists": for queries that stop after a page). The lookup is a scalar
 * subquery compared outside it, so the value range is no index constraint, and names NOT INDEXED
 * (run_metrics is WITHOUT ROWID, so its primary key is the table itself and stays usable): as
 * `EXISTS (... AND x.value <= ?)`, SQLite without ANALYZE statistics answered it with a range scan
 * of run_metrics_key_value (key=? AND value<?) per candidate row, seconds on 5,000 runs.
 */
export function runFilterConditions(f: RunFilter, alias = "r", metricMode: "in" | "exists" = "in"): SQL[] {
  const a = sql.raw(alias);
  const out: SQL[] = [];
  if (!f.includeSynthetic) out.push(sql`${a}.synthetic = 0`);
  for (const [k, col] of Object.entries(COLUMN) as [keyof typeof COLUMN, string][]) {
    const vals = f[k] as (string | number)[];
    if (vals.length === 0) continue;
    const c = sql`${a}.${sql.raw(col)}`;
    // "(none)" in the hardware filter selects runs logged without a hardware label.
    const none = k === "hardware" && vals.includes(NO_HARDWARE);
    const named = none ? vals.filter((v) => v !== NO_HARDWARE) : vals;
    if (!none) out.push(sql`${c} IN (${inList(named)})`);
    else out.push(named.length ? sql`(${c} IS NULL OR ${c} IN (${inList(named)}))` : sql`${c} IS NULL`);
  }
  if (f.tag.length > 0) {
    out.push(sql`EXISTS (SELECT 1 FROM json_each(${a}.tags) t WHERE t.value IN (${inList(f.tag)}))`);
  }
  for (const p of f.param) {
    // json_extract gives numbers as numbers, strings as text and booleans as 1/0.
    const v = typeof p.value === "boolean" ? (p.value ? 1 : 0) : p.value;
    out.push(sql`json_extract(${a}.params, ${`$."${p.key}"`}) ${OP_SQL[p.op]} ${v}`);
  }
  for (const m of f.metric) {
    out.push(
      metricMode === "in"
        ? sql`${a}.id IN (SELECT run_id FROM run_metrics WHERE key = ${m.key} AND value ${OP_SQL[m.op]} ${m.value})`
        : sql`(SELECT x.value FROM run_metrics x NOT INDEXED WHERE x.run_id = ${a}.id AND x.key = ${m.key}) ${OP_SQL[m.op]} ${m.value}`,
    );
  }
  return out;
}

export function whereClause(conds: SQL[]): SQL {
  return conds.length > 0 ? sql`WHERE ${sql.join(conds, sql` AND `)}` : sql``;
}

export function andAll(conds: SQL[]): SQL {
  return conds.length > 0 ? sql.join(conds, sql` AND `) : sql`1`;
}
