import { METRIC_KEYS } from "@/lib/metrics";
import { RUN_SETUP_COLUMNS, type RunRow } from "@/lib/schemas/runs";

/** The run columns of an export, in order; params and metrics follow as param.<name>, metric.<key>. */
export const RUN_EXPORT_COLUMNS = [
  "id",
  "experimentId",
  "experimentName",
  ...RUN_SETUP_COLUMNS,
  "status",
  "attempts",
  "source",
  "synthetic",
  "baselineRunId",
  "tags",
  "notes",
  "error",
  "createdAt",
  "startedAt",
  "finishedAt",
] as const satisfies readonly (keyof RunRow | "experimentName")[];

/** Run times in a CSV: ISO 8601 in UTC with milliseconds (2026-03-01T12:00:00.000Z), as spreadsheets parse them. */
const TIME_COLUMNS = new Set<string>(["createdAt", "startedAt", "finishedAt"]);

export function isoTime(ms: number | null | undefined): string {
  return ms === null || ms === undefined || !Number.isFinite(ms) ? "" : new Date(ms).toISOString();
}

/** Known metric keys in lib/metrics order, then any others alphabetically. */
export function orderMetricKeys(keys: Iterable<string>): string[] {
  const set = new Set(keys);
  const known = METRIC_KEYS.filter((k) => set.has(k));
  const other = [...set].filter((k) => !METRIC_KEYS.includes(k)).sort();
  return [...known, ...other];
}

export interface ExportLayout {
  params: string[];
  metrics: string[];
  /** The name of each experiment the exported runs belong to (experimentName column). */
  experimentNames?: ReadonlyMap<number, string>;
}

export function exportHeader(layout: ExportLayout): string[] {
  return [...RUN_EXPORT_COLUMNS, ...layout.params.map((p) => `param.${p}`), ...layout.metrics.map((m) => `metric.${m}`)];
}

const experimentName = (run: RunRow, layout: ExportLayout): string | null =>
  run.experimentId === null ? null : (layout.experimentNames?.get(run.experimentId) ?? null);

/** One run as export cells: tags joined by ";", times as ISO 8601, params as their values (lists and objects as JSON). */
export function exportCells(run: RunRow, layout: ExportLayout): unknown[] {
  const cells: unknown[] = RUN_EXPORT_COLUMNS.map((c) =>
    c === "tags" ? run.tags.join(";") : c === "experimentName" ? experimentName(run, layout) : TIME_COLUMNS.has(c) ? isoTime(run[c as "createdAt"]) : run[c],
  );
  for (const p of layout.params) cells.push(run.params[p]);
  for (const m of layout.metrics) cells.push(run.metrics[m]);
  return cells;
}

/**
 * A CSV encoder for one export layout: one CRLF-terminated line per run, without the intermediate
 * cell array. Text cells repeat a lot (method ids, runtimes, hardware labels), so their encoded
 * form is memoised; numbers are formatted each time.
 */
export function csvRunEncoder(layout: ExportLayout, cell: (v: unknown) => string): (run: RunRow) => string {
  const memo = new Map<string, string>();
  const text = (s: string | null): string => {
    if (s === null) return "";
    let e = memo.get(s);
    if (e === undefined) {
      e = cell(s);
      if (memo.size < 50_000) memo.set(s, e);
    }
    return e;
  };
  const num = (v: number | null | undefined) => (v === null || v === undefined || !Number.isFinite(v) ? "" : String(v));
  return (r) => {
    let line =
      num(r.id) +
      "," +
      num(r.experimentId) +
      "," +
      text(experimentName(r, layout)) +
      "," +
      text(r.methodId) +
      "," +
      text(r.family) +
      "," +
      text(r.modelId) +
      "," +
      text(r.datasetId) +
      "," +
      text(r.runtime) +
      "," +
      text(r.hardwareKey) +
      "," +
      text(r.status) +
      "," +
      num(r.attempts) +
      "," +
      text(r.source) +
      "," +
      (r.synthetic ? "true" : "false") +
      "," +
      num(r.baselineRunId) +
      "," +
      text(r.tags.join(";")) +
      "," +
      cell(r.notes) +
      "," +
      cell(r.error) +
      "," +
      isoTime(r.createdAt) +
      "," +
      isoTime(r.startedAt) +
      "," +
      isoTime(r.finishedAt);
    for (const p of layout.params) {
      const v = r.params[p];
      line += "," + (typeof v === "string" ? text(v) : cell(v));
    }
    for (const m of layout.metrics) line += "," + num(r.metrics[m]);
    return line + "\r\n";
  };
}
