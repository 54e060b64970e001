import { sql, type SQL } from "drizzle-orm";
import type { RunFilter, MetricOp } from "../../lib/schemas/filters";

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
 * visit every match) or a primary-key lookup per candidate row ("exists": for queries that stop
 * after a page).
 */
export function runFilterConditions(f: RunFilter, alias = "r", metricMode: "in" | "exists" = "in"): SQL[] {
  const a = sql.raw(alias);
  const out: SQL[] = [];
  if (!f.includeSynthetic) out.push(sql`${a}.synthetic = 0`);
  for (const [k, col] of Object.entries(COLUMN) as [keyof typeof COLUMN, string][]) {
    const vals = f[k] as (string | number)[];
    if (vals.length > 0) out.push(sql`${a}.${sql.raw(col)} IN (${inList(vals)})`);
  }
  if (f.tag.length > 0) {
    out.push(sql`EXISTS (SELECT 1 FROM json_each(${a}.tags) t WHERE t.value IN (${inList(f.tag)}))`);
  }
  for (const m of f.metric) {
    out.push(
      metricMode === "in"
        ? sql`${a}.id IN (SELECT run_id FROM run_metrics WHERE key = ${m.key} AND value ${OP_SQL[m.op]} ${m.value})`
        : sql`EXISTS (SELECT 1 FROM run_metrics x WHERE x.run_id = ${a}.id AND x.key = ${m.key} AND x.value ${OP_SQL[m.op]} ${m.value})`,
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
