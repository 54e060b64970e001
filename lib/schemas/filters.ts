import { z } from "zod";
import { badRequest, searchParamsObject, zodDetails } from "@/lib/http";
import { issueMessage } from "@/lib/errors";
import { METRIC_KEY_PATTERN } from "@/lib/metrics";
import { RUN_STATUSES } from "../domain";
import type { RunStatus } from "./common";

/**
 * The run filter shared by GET /runs, /pareto and /export (and the dashboard's URL state). Every
 * list filter is repeatable and ORs its values; different filters AND together.
 */
export const METRIC_OPS = ["gte", "lte", "gt", "lt", "eq"] as const;
export type MetricOp = (typeof METRIC_OPS)[number];
const SYMBOL_OP: Record<string, MetricOp> = { ">=": "gte", "<=": "lte", ">": "gt", "<": "lt", "=": "eq" };
export interface MetricRange {
  key: string;
  op: MetricOp;
  value: number;
}

/** A parameter condition (`param.bits=4`, `param.group_size>=64`): numbers compare numerically, other values as text. */
export interface ParamCondition {
  key: string;
  op: MetricOp;
  value: number | string | boolean;
}

/** Parameter names as the method registry spells them. */
export const PARAM_KEY_PATTERN = /^[A-Za-z_][A-Za-z0-9_]{0,63}$/;

export interface RunFilter {
  family: string[];
  method: string[];
  status: RunStatus[];
  model: string[];
  dataset: string[];
  runtime: string[];
  hardware: string[];
  tag: string[];
  experiment: number[];
  metric: MetricRange[];
  param: ParamCondition[];
  /** Synthetic rows (benchmark databases only) are left out unless asked for. */
  includeSynthetic: boolean;
}

export const emptyFilter = (): RunFilter => ({
  family: [],
  method: [],
  status: [],
  model: [],
  dataset: [],
  runtime: [],
  hardware: [],
  tag: [],
  experiment: [],
  metric: [],
  param: [],
  includeSynthetic: false,
});

const many = <T extends z.ZodType<unknown, string>>(item: T) =>
  z
    .union([z.string(), z.array(z.string())])
    .transform((v) => (Array.isArray(v) ? v : [v]))
    .pipe(z.array(item).max(200, "at most 200 values per filter"));

const text = z.string().min(1).max(300);
const bool = z.enum(["0", "1", "true", "false"]).transform((v) => v === "1" || v === "true");

/** The plain (non-metric) filter keys, as URLSearchParams delivers them. */
export const RunFilterQuery = z.object({
  family: many(text).optional(),
  method: many(text).optional(),
  status: many(z.enum(RUN_STATUSES)).optional(),
  model: many(text).optional(),
  dataset: many(text).optional(),
  runtime: many(text).optional(),
  hardware: many(text).optional(),
  tag: many(text).optional(),
  experiment: many(
    z
      .string()
      .regex(/^[1-9][0-9]{0,14}$/, "must be an experiment id")
      .transform(Number),
  ).optional(),
  /** Alternative metric range syntax: metric=accuracy:gte:0.9 */
  metric: many(z.string().regex(/^[A-Za-z][A-Za-z0-9_./-]{0,63}:(gte|lte|gt|lt|eq):.+$/, "expected <key>:<gte|lte|gt|lt|eq>:<number>")).optional(),
  includeSynthetic: bool.optional(),
});
export const FILTER_KEYS = Object.keys(RunFilterQuery.shape);

/**
 * The most metric ranges (`metric.<key><op><n>` and `metric=<key>:<op>:<n>` together) one query may
 * give: each is a subquery of its own, and SQLite refuses a WHERE clause of about a thousand. The
 * other filters are one condition per key whatever their number of values.
 */
export const MAX_METRIC_FILTERS = 50;

/**
 * A metric range from one query entry. URLSearchParams splits `metric.accuracy>=0.9` at its first
 * "=" into key `metric.accuracy>` and value `=0.9`, and `metric.accuracy>0.9` into that whole key
 * with an empty value; joining key and value back gives the text the client wrote in every case.
 */
function parseMetricEntry(key: string, value: string): MetricRange | { error: string } {
  const raw = value === "" ? key : `${key}=${value}`;
  const m = /^metric\.([A-Za-z][A-Za-z0-9_./-]*)(>=|<=|>|<|=)(.*)$/.exec(raw);
  if (!m) return { error: "expected metric.<key><op><number> with op one of >=, <=, >, <, =" };
  if (!METRIC_KEY_PATTERN.test(m[1])) return { error: "not a valid metric key" };
  const v = m[3].trim() === "" ? NaN : Number(m[3]);
  if (!Number.isFinite(v)) return { error: `"${m[3]}" is not a finite number` };
  return { key: m[1], op: SYMBOL_OP[m[2]], value: v };
}

/**
 * A parameter condition from one query entry, split like a metric entry (see parseMetricEntry).
 * `=` takes a number, true/false or any text; the range operators take a number.
 */
function parseParamEntry(key: string, value: string): ParamCondition | { error: string } {
  const raw = value === "" ? key : `${key}=${value}`;
  const m = /^param\.([^<>=]*)(>=|<=|>|<|=)(.*)$/.exec(raw);
  if (!m) return { error: "expected param.<name><op><value> with op one of >=, <=, >, <, =" };
  if (!PARAM_KEY_PATTERN.test(m[1])) return { error: "not a valid parameter name" };
  const op = SYMBOL_OP[m[2]];
  const text = m[3].trim();
  if (text === "") return { error: "a value is required" };
  if (text.length > 300) return { error: "value longer than 300 characters" };
  const n = Number(text);
  if (op !== "eq" && !Number.isFinite(n)) return { error: `"${text}" is not a finite number (${m[2]} compares numbers)` };
  const v = Number.isFinite(n) ? n : text === "true" ? true : text === "false" ? false : text;
  return { key: m[1], op, value: v };
}

/**
 * Parses a run filter plus an endpoint's own keys (sort, axes, format...) from a query string.
 * Unknown keys are a 400 too: a misspelt filter silently matching everything would mislead.
 */
export function parseRunQuery<S extends z.ZodObject>(sp: URLSearchParams, extra: S): { filter: RunFilter; extra: z.infer<S> } {
  let metricCount = 0;
  for (const [k] of sp) if (k.startsWith("metric.") || k === "metric" || k.startsWith("param.")) metricCount++;
  if (metricCount > MAX_METRIC_FILTERS) {
    throw badRequest(`at most ${MAX_METRIC_FILTERS} metric and parameter filters per query`, [
      { field: "metric", message: `${metricCount} metric and parameter filters given; the limit is ${MAX_METRIC_FILTERS}` },
    ]);
  }
  const details: { field: string; message: string }[] = [];
  const filter = emptyFilter();
  const plain = new URLSearchParams();
  const extraKeys = new Set(Object.keys(extra.shape));
  for (const [k, v] of sp) {
    if (k.startsWith("metric.")) {
      const r = parseMetricEntry(k, v);
      const field = /^metric\.[A-Za-z0-9_./-]*/.exec(k)?.[0] ?? k;
      if ("error" in r) details.push({ field, message: r.error });
      else filter.metric.push(r);
    } else if (k.startsWith("param.")) {
      const r = parseParamEntry(k, v);
      const field = /^param\.[A-Za-z0-9_]*/.exec(k)?.[0] ?? k;
      if ("error" in r) details.push({ field, message: r.error });
      else filter.param.push(r);
    } else if (FILTER_KEYS.includes(k) || extraKeys.has(k)) {
      plain.append(k, v);
    } else {
      details.push({ field: k, message: "unknown query parameter" });
    }
  }
  const obj = searchParamsObject(plain);
  const f = RunFilterQuery.safeParse(Object.fromEntries(Object.entries(obj).filter(([k]) => FILTER_KEYS.includes(k))));
  const e = extra.safeParse(Object.fromEntries(Object.entries(obj).filter(([k]) => extraKeys.has(k))));
  if (!f.success) {
    // A repeatable key's issue path is [key, index]: name the key the client wrote, and the value.
    for (const i of f.error.issues) {
      const key = String(i.path[0] ?? "(query)");
      const idx = i.path[1];
      const vals = obj[key];
      const value = typeof idx === "number" ? (Array.isArray(vals) ? vals[idx] : vals) : undefined;
      details.push({ field: key, message: value !== undefined ? `${JSON.stringify(value)}: ${issueMessage(i)}` : issueMessage(i) });
    }
  }
  if (!e.success) details.push(...zodDetails(e.error));
  if (details.length > 0 || !f.success || !e.success) throw badRequest("invalid query", details);
  const q = f.data;
  for (const k of ["family", "method", "status", "model", "dataset", "runtime", "hardware", "tag", "experiment"] as const) {
    const vals = q[k];
    if (vals) (filter[k] as unknown[]) = [...new Set<unknown>(vals)];
  }
  for (const m of q.metric ?? []) {
    const [key, op, num] = [m.slice(0, m.indexOf(":")), m.split(":")[1] as MetricOp, m.slice(m.indexOf(":", m.indexOf(":") + 1) + 1)];
    const v = Number(num);
    const bad = !METRIC_KEY_PATTERN.test(key) ? "not a valid metric key" : !Number.isFinite(v) ? `"${num}" is not a finite number` : null;
    if (bad) details.push({ field: "metric", message: bad });
    else filter.metric.push({ key, op, value: v });
  }
  if (details.length > 0) throw badRequest("invalid query", details);
  filter.includeSynthetic = q.includeSynthetic ?? false;
  return { filter, extra: e.data };
}
