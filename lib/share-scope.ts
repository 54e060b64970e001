import { z } from "zod";
import { emptyFilter, FILTER_KEYS, parseRunQuery, type RunFilter } from "./schemas/filters";
import type { ViewState } from "./schemas/share";
import { toSearchParams } from "./share-state";

/**
 * What a share link lets its holder read: the runs its view shows and nothing else. A link grants
 * reads, never writes; this module says which reads lie within its view (the server checks it on
 * every read that carries the link's token).
 */

/** Whether a query key is a run filter (lib/schemas/filters): what the runs table, explorer and export pass to the API. */
export function isFilterKey(k: string): boolean {
  return FILTER_KEYS.includes(k) || k.startsWith("metric.") || k.startsWith("param.");
}

/** The run filter of a view's query, as the dashboard pages send it: filter keys only, empty plain values left out. */
export function filterParams(params: URLSearchParams): Record<string, string | string[]> {
  const out: Record<string, string | string[]> = {};
  for (const [k, v] of params) {
    if (!isFilterKey(k) || (v === "" && !k.startsWith("metric.") && !k.startsWith("param."))) continue;
    const prev = out[k];
    out[k] = prev === undefined ? v : Array.isArray(prev) ? [...prev, v] : [prev, v];
  }
  return out;
}

/** The run filter of a request's query (its other keys, the endpoint's own, are left to the endpoint); a bad filter is a 400. */
export function requestFilter(sp: URLSearchParams): RunFilter {
  const only = new URLSearchParams();
  for (const [k, v] of sp) if (isFilterKey(k)) only.append(k, v);
  return parseRunQuery(only, z.object({})).filter;
}

export type ShareScope =
  /** explorer, runs table and experiment pages: the runs of a filter (an experiment page's: its experiment's runs). */
  | { kind: "filter"; filter: RunFilter; experiment: number | null }
  /** a comparison: its runs (2 to 10, by id) and the baselines they are compared against. */
  | { kind: "ids"; ids: number[] }
  /** a view whose stored state no page can show (a filter that no longer parses): nothing beyond the registries. */
  | { kind: "none"; reason: string };

/**
 * The compare page's `ids`: 2 to 10 run numbers separated by commas; otherwise the error the page
 * shows (and a share link of it grants no run).
 */
export function parseCompareIds(raw: string | null): { ids: number[]; error: string | null } {
  const parts = (raw ?? "")
    .split(",")
    .map((s) => s.trim())
    .filter(Boolean);
  const ids = [...new Set(parts.map(Number))];
  if (parts.some((p) => !/^[1-9][0-9]{0,14}$/.test(p))) return { ids: [], error: `ids must be run numbers separated by commas (got "${raw}")` };
  if (ids.length < 2 || ids.length > 10) return { ids, error: `compare takes 2 to 10 runs (got ${ids.length})` };
  return { ids, error: null };
}

/** The reads a view's page makes, from its stored state. */
export function shareScope(view: ViewState): ShareScope {
  if (view.page === "compare") {
    const raw = view.query.ids;
    const { ids, error } = parseCompareIds(Array.isArray(raw) ? raw.join(",") : (raw ?? null));
    return { kind: "ids", ids: error ? [] : ids };
  }
  if (view.page === "experiment") {
    // The experiment page shows every run of its experiment and reads no filter from its query.
    if (!view.id) return { kind: "none", reason: "the shared experiment page names no experiment" };
    const id = Number(view.id);
    return { kind: "filter", filter: { ...emptyFilter(), experiment: [id], includeSynthetic: true }, experiment: id };
  }
  try {
    return { kind: "filter", filter: requestFilter(toSearchParams(filterParams(toSearchParams(view.query)))), experiment: null };
  } catch {
    return { kind: "none", reason: "the shared view's filter is no longer valid" };
  }
}

const LIST_KEYS = ["family", "method", "status", "model", "dataset", "runtime", "hardware", "tag", "experiment"] as const;

const sameCondition = (a: { key: string; op: string; value: unknown }, b: { key: string; op: string; value: unknown }) =>
  a.key === b.key && a.op === b.op && a.value === b.value;

const OP_TEXT: Record<string, string> = { gte: ">=", lte: "<=", gt: ">", lt: "<", eq: "=" };

/**
 * Whether a request's run filter lies within a view's: every filter of the view is in the request,
 * a list filter with a subset of the view's values and a metric or parameter condition unchanged.
 * The request may add filters of its own (narrowing). Null when it does; otherwise what it drops or widens.
 */
export function filterOutside(request: RunFilter, view: RunFilter): string | null {
  for (const k of LIST_KEYS) {
    const allowed = view[k] as (string | number)[];
    if (allowed.length === 0) continue;
    const asked = request[k] as (string | number)[];
    const shown = allowed.join(",");
    if (asked.length === 0) return `the shared view is filtered to ${k}=${shown}; this request drops that filter`;
    const extra = asked.find((v) => !allowed.includes(v));
    if (extra !== undefined) return `the shared view is filtered to ${k}=${shown}; this request asks for ${k}=${extra}`;
  }
  for (const [name, conds] of [
    ["metric", view.metric],
    ["param", view.param],
  ] as const) {
    for (const c of conds) {
      const mine = name === "metric" ? request.metric : request.param;
      if (!mine.some((r) => sameCondition(r, c)))
        return `the shared view is filtered to ${name}.${c.key}${OP_TEXT[c.op]}${c.value}; this request drops or changes it`;
    }
  }
  if (request.includeSynthetic && !view.includeSynthetic) return "the shared view leaves synthetic runs out; this request asks for them";
  return null;
}
