import { METRIC_KEYS } from "@/lib/metrics";
import type { RunRow } from "@/lib/schemas/runs";

/** The run columns of an export, in order; params and metrics follow as param.<name>, metric.<key>. */
export const RUN_EXPORT_COLUMNS = [
  "id",
  "experimentId",
  "methodId",
  "family",
  "modelId",
  "datasetId",
  "runtime",
  "hardwareKey",
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
] as const satisfies readonly (keyof RunRow)[];

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
}

export function exportHeader(layout: ExportLayout): string[] {
  return [...RUN_EXPORT_COLUMNS, ...layout.params.map((p) => `param.${p}`), ...layout.metrics.map((m) => `metric.${m}`)];
}

/** One run as export cells: tags joined by ";", params as their values (lists and objects as JSON). */
export function exportCells(run: RunRow, layout: ExportLayout): unknown[] {
  const cells: unknown[] = RUN_EXPORT_COLUMNS.map((c) => (c === "tags" ? run.tags.join(";") : run[c]));
  for (const p of layout.params) cells.push(run.params[p]);
  for (const m of layout.metrics) cells.push(run.metrics[m]);
  return cells;
}
