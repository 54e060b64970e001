import { METRIC_KEY_PATTERN } from "./metrics";

/**
 * The runs table's chosen extra columns, from the `cols` URL parameter: a comma-separated list of
 * `metric.<key>` and `param.<name>` (`cols=metric.model_bytes,param.bits`). Without `cols` the table
 * picks metric columns itself.
 */
export type RunColumn = { kind: "metric"; key: string; id: string } | { kind: "param"; key: string; id: string };

/** At most this many chosen columns. */
export const MAX_RUN_COLUMNS = 24;
const PARAM_NAME = /^[A-Za-z_][A-Za-z0-9_]{0,63}$/;

/** One `metric.<key>` or `param.<name>` entry, or null when it is neither. */
export function parseRunColumn(id: string): RunColumn | null {
  const m = /^(metric|param)\.(.+)$/.exec(id.trim());
  if (!m) return null;
  const [, kind, key] = m;
  if (kind === "metric") return METRIC_KEY_PATTERN.test(key) ? { kind, key, id: `metric.${key}` } : null;
  return PARAM_NAME.test(key) ? { kind: "param", key, id: `param.${key}` } : null;
}

/** The columns `cols` names, in its order, without repeats or malformed entries; null when `cols` is absent. */
export function parseRunColumns(cols: string | null): RunColumn[] | null {
  if (cols === null) return null;
  const out: RunColumn[] = [];
  for (const part of cols.split(",")) {
    const c = parseRunColumn(part);
    if (c && !out.some((o) => o.id === c.id)) out.push(c);
    if (out.length === MAX_RUN_COLUMNS) break;
  }
  return out;
}

export function formatRunColumns(cols: RunColumn[]): string {
  return cols.map((c) => c.id).join(",");
}

/** The `sort` key GET /api/v1/runs accepts for a column, or null where the API cannot sort by it (parameters). */
export function runColumnSort(c: RunColumn): string | null {
  return c.kind === "metric" ? `metric.${c.key}` : null;
}
