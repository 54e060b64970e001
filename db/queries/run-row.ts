import { sql, type GetColumnData } from "drizzle-orm";
import { runs } from "../schema";
import type { RunRow } from "../../lib/schemas/runs";

/**
 * A run as the API lists it (lib/schemas/runs.ts RunRow, less its metrics), written once as the
 * runs columns it reads: everything but the lease bookkeeping. The SQL select list, the positional
 * mapper the bulk reads use and the mapper from a drizzle row all derive from this object.
 */
export const RUN_ROW_COLUMNS = {
  id: runs.id,
  experimentId: runs.experimentId,
  methodId: runs.methodId,
  family: runs.family,
  params: runs.params,
  modelId: runs.modelId,
  datasetId: runs.datasetId,
  runtime: runs.runtime,
  hardwareKey: runs.hardwareKey,
  status: runs.status,
  stage: runs.stage,
  progress: runs.progress,
  attempts: runs.attempts,
  error: runs.error,
  baselineRunId: runs.baselineRunId,
  tags: runs.tags,
  notes: runs.notes,
  source: runs.source,
  synthetic: runs.synthetic,
  createdAt: runs.createdAt,
  startedAt: runs.startedAt,
  finishedAt: runs.finishedAt,
  updatedAt: runs.updatedAt,
} as const;

type Columns = typeof RUN_ROW_COLUMNS;
export type RunRowKey = keyof Columns;
/** What the columns decode to: drizzle's own select(RUN_ROW_COLUMNS) row type. */
type ColumnsRow = { [K in RunRowKey]: GetColumnData<Columns[K]> };

// The zod RunRow and the column list are one shape: a field added to, dropped from or retyped in
// either without the other fails to compile here.
type Same<A, B> = [A] extends [B] ? ([B] extends [A] ? true : false) : false;
const sameShape: Same<ColumnsRow, Omit<RunRow, "metrics">> = true;
void sameShape;

export const RUN_ROW_KEYS = Object.keys(RUN_ROW_COLUMNS) as RunRowKey[];

/** The select list of a run listing over `runs r`, in RUN_ROW_KEYS order. */
export const RUN_COLUMNS = sql.raw(RUN_ROW_KEYS.map((k) => `r.${RUN_ROW_COLUMNS[k].name}`).join(", "));

/** Where each field sits in a row selected with RUN_COLUMNS; extra selected values follow at RUN_ROW_WIDTH. */
const at = Object.fromEntries(RUN_ROW_KEYS.map((k, i) => [k, i])) as { readonly [K in RunRowKey]: number };
export const RUN_ROW_WIDTH = RUN_ROW_KEYS.length;

/** The run id of a row selected with RUN_COLUMNS. */
export const runIdOf = (v: readonly unknown[]): number => v[at.id] as number;

/**
 * A run from a positional row of RUN_COLUMNS. Bulk reads fetch arrays (better-sqlite3's raw mode)
 * and build objects here: 100k runs as row objects cost 1.15 s CPU, as arrays 0.34 s (measured on
 * the tracker benchmark machine). Fields are read by name through `at`, never by a hand-counted
 * position; the object literal keeps the speed a generic per-key loop would cost.
 */
export function runRowFromValues(v: readonly unknown[], metrics: Record<string, number>): RunRow {
  return {
    id: v[at.id] as RunRow["id"],
    experimentId: v[at.experimentId] as RunRow["experimentId"],
    methodId: v[at.methodId] as RunRow["methodId"],
    family: v[at.family] as RunRow["family"],
    params: JSON.parse(v[at.params] as string) as RunRow["params"],
    modelId: v[at.modelId] as RunRow["modelId"],
    datasetId: v[at.datasetId] as RunRow["datasetId"],
    runtime: v[at.runtime] as RunRow["runtime"],
    hardwareKey: v[at.hardwareKey] as RunRow["hardwareKey"],
    status: v[at.status] as RunRow["status"],
    stage: v[at.stage] as RunRow["stage"],
    progress: v[at.progress] as RunRow["progress"],
    attempts: v[at.attempts] as RunRow["attempts"],
    error: v[at.error] as RunRow["error"],
    baselineRunId: v[at.baselineRunId] as RunRow["baselineRunId"],
    tags: JSON.parse(v[at.tags] as string) as RunRow["tags"],
    notes: v[at.notes] as RunRow["notes"],
    source: v[at.source] as RunRow["source"],
    synthetic: v[at.synthetic] === 1,
    createdAt: v[at.createdAt] as RunRow["createdAt"],
    startedAt: v[at.startedAt] as RunRow["startedAt"],
    finishedAt: v[at.finishedAt] as RunRow["finishedAt"],
    updatedAt: v[at.updatedAt] as RunRow["updatedAt"],
    metrics,
  };
}

/** The RunRow fields of a run drizzle already decoded (a full `runs` row or a RUN_ROW_COLUMNS select). */
export function runRowFrom(r: ColumnsRow, metrics: Record<string, number>): RunRow {
  const out = {} as Record<RunRowKey | "metrics", unknown>;
  for (const k of RUN_ROW_KEYS) out[k] = r[k];
  out.metrics = metrics;
  return out as RunRow;
}
