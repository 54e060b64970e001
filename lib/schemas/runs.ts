import { z } from "zod";
import { METRIC_KEY_PATTERN } from "@/lib/metrics";
import { LOGGED_RUN_STATUSES, RUN_SOURCES } from "../domain";
import { boundedMetrics, RunLabel, RunStatus, Runtime } from "./common";

export const metricKeySchema = z.string().regex(METRIC_KEY_PATTERN, "metric keys are a letter then up to 63 of A-Z a-z 0-9 _ . / -");
const finite = z.number().refine(Number.isFinite, "must be a finite number");
export const tag = z.string().trim().min(1).max(64);
export const tags = z
  .array(tag)
  .max(50)
  .refine((t) => new Set(t).size === t.length, "tags must not repeat");

/** Bounds of a logged run's free-form `hardware` object. */
export const MAX_HARDWARE_KEYS = 32;
export const MAX_HARDWARE_STRING = 300;
export const MAX_HARDWARE_BYTES = 8 * 1024;

const isScalar = (v: unknown) => v === null || typeof v === "string" || typeof v === "boolean" || (typeof v === "number" && Number.isFinite(v));

/**
 * A logged run's hardware: a worker fingerprint or any flat description (`{ label }`, `{ gpu, driver }`),
 * bounded: at most MAX_HARDWARE_KEYS keys, MAX_HARDWARE_BYTES as JSON, strings of at most
 * MAX_HARDWARE_STRING characters; a value is a scalar, an array of scalars or an object of those.
 */
export const LoggedHardware = z.record(z.string().min(1).max(64), z.unknown()).superRefine((hw, ctx) => {
  const bytes = new TextEncoder().encode(JSON.stringify(hw)).byteLength;
  if (bytes > MAX_HARDWARE_BYTES) {
    ctx.addIssue({ code: "custom", message: `hardware is ${bytes} bytes as JSON; the limit is ${MAX_HARDWARE_BYTES}` });
    return;
  }
  const keys = Object.keys(hw);
  if (keys.length > MAX_HARDWARE_KEYS) ctx.addIssue({ code: "custom", message: `at most ${MAX_HARDWARE_KEYS} hardware keys` });
  // depth 0: a top-level value; 1: a value in an object; 2: an array item (scalars only).
  const check = (v: unknown, path: (string | number)[], depth: number): void => {
    if (typeof v === "string") {
      if (v.length > MAX_HARDWARE_STRING) ctx.addIssue({ code: "custom", path, message: `strings are at most ${MAX_HARDWARE_STRING} characters` });
    } else if (isScalar(v)) {
      // a number, boolean or null
    } else if (Array.isArray(v) && depth < 2) {
      for (const [i, x] of v.entries()) check(x, [...path, i], 2);
    } else if (typeof v === "object" && v !== null && !Array.isArray(v) && depth < 1) {
      for (const [k, x] of Object.entries(v)) check(x, [...path, k], 1);
    } else {
      ctx.addIssue({ code: "custom", path, message: "values are strings, numbers, booleans, null, or arrays or objects of those" });
    }
  };
  for (const k of keys) check(hw[k], [k], 0);
});

/** The run columns that say what was run where: method, model, dataset, runtime, hardware. */
export const RUN_SETUP_COLUMNS = ["methodId", "family", "modelId", "datasetId", "runtime", "hardwareKey"] as const;

/** Run columns GET /runs can sort by (plus `metric.<key>`); prefix "-" for descending. */
export const RUN_SORT_COLUMNS = ["id", "createdAt", "startedAt", "finishedAt", "updatedAt", "status", ...RUN_SETUP_COLUMNS, "experimentId"] as const;
export type RunSortColumn = (typeof RUN_SORT_COLUMNS)[number];

export const RunSort = z
  .string()
  .regex(
    new RegExp(`^-?(${RUN_SORT_COLUMNS.join("|")}|metric\\.[A-Za-z][A-Za-z0-9_./-]{0,63})$`),
    `sort by one of ${RUN_SORT_COLUMNS.join(", ")} or metric.<key>, with "-" for descending`,
  );

/** The page keys of GET /api/v1/runs (the filter keys are in filters.ts). */
export const RunsPageQuery = z.object({
  sort: RunSort.default("-id"),
  cursor: z
    .string()
    .max(2000)
    .regex(/^[A-Za-z0-9_-]+$/, "not a cursor from this API")
    .optional(),
  limit: z
    .string()
    .regex(/^[0-9]{1,4}$/, "must be an integer from 1 to 500")
    .transform(Number)
    .pipe(z.number().int().min(1, "must be at least 1").max(500, "must be at most 500"))
    .default(50),
});
export type RunsPageQuery = z.infer<typeof RunsPageQuery>;

/** POST /api/v1/runs — log a run executed outside Frontier (a script, a notebook, another cluster). */
export const LogRunBody = z.strictObject({
  methodId: z.string().min(1).max(64),
  params: z.record(z.string(), z.unknown()).default({}),
  modelId: RunLabel,
  datasetId: RunLabel,
  runtime: Runtime,
  hardware: LoggedHardware.optional(),
  status: z.enum(LOGGED_RUN_STATUSES).default("succeeded"),
  metrics: boundedMetrics(z.record(metricKeySchema, finite)).default({}),
  tags: tags.default([]),
  notes: z.string().max(20_000).optional(),
  error: z.string().max(20_000).optional(),
  seed: z.number().int().optional(),
  codeVersion: z.string().max(200).optional(),
  startedAt: z.number().int().min(0).optional(),
  finishedAt: z.number().int().min(0).optional(),
});
export type LogRunBody = z.output<typeof LogRunBody>;

export const LogRunResponse = z.object({
  id: z.number().int(),
  hardwareKey: z.string().nullable(),
  baselineRunId: z.number().int().nullable(),
  /** Metric keys Frontier has no definition for (stored as given; direction defaults to higher). */
  unknownMetricKeys: z.array(z.string()),
});
export type LogRunResponse = z.infer<typeof LogRunResponse>;

/** PATCH /api/v1/runs/:id — only annotations change after the fact. */
export const PatchRunBody = z
  .strictObject({ tags: tags.optional(), notes: z.string().max(20_000).nullable().optional() })
  .refine((b) => b.tags !== undefined || b.notes !== undefined, "give tags and/or notes");
export type PatchRunBody = z.infer<typeof PatchRunBody>;

/** The fields of a run (or a point drawn from one) that say what was run where, with its params. */
export const RunSetupFields = {
  methodId: z.string(),
  family: z.string(),
  params: z.record(z.string(), z.unknown()),
  modelId: z.string(),
  datasetId: z.string(),
  runtime: z.string(),
  hardwareKey: z.string().nullable(),
};

export const RunRow = z.object({
  id: z.number().int(),
  experimentId: z.number().int().nullable(),
  ...RunSetupFields,
  status: RunStatus,
  stage: z.string().nullable(),
  progress: z.number().nullable(),
  attempts: z.number().int(),
  error: z.string().nullable(),
  baselineRunId: z.number().int().nullable(),
  tags: z.array(z.string()),
  notes: z.string().nullable(),
  source: z.enum(RUN_SOURCES),
  synthetic: z.boolean(),
  createdAt: z.number(),
  startedAt: z.number().nullable(),
  finishedAt: z.number().nullable(),
  updatedAt: z.number().nullable(),
  metrics: z.record(z.string(), z.number()),
});
export type RunRow = z.infer<typeof RunRow>;

export const RunsPage = z.object({
  runs: z.array(RunRow),
  /** Pass back as `cursor` for the next page; null on the last page. */
  nextCursor: z.string().nullable(),
  /** Runs matching the filter, over all pages. */
  total: z.number().int(),
});
export type RunsPage = z.infer<typeof RunsPage>;

export const MetricValue = z.object({
  key: z.string(),
  value: z.number(),
  label: z.string(),
  unit: z.string(),
  direction: z.enum(["higher", "lower"]),
  group: z.string().nullable(),
  known: z.boolean(),
});
export type MetricValue = z.infer<typeof MetricValue>;

export const RunEvent = z.object({ id: z.number().int(), ts: z.number(), level: z.string(), message: z.string() });
export type RunEvent = z.infer<typeof RunEvent>;

export const RunArtifact = z.object({
  id: z.number().int(),
  kind: z.string(),
  /** The file's name (never the worker's or the server's path). */
  name: z.string(),
  /** Where to download it (GET /api/v1/runs/:id/artifacts/:artifactId), or null when the file is not on this server (a remote worker wrote it). */
  downloadUrl: z.string().nullable(),
  bytes: z.number().nullable(),
  sha256: z.string().nullable(),
  createdAt: z.number(),
});
export type RunArtifact = z.infer<typeof RunArtifact>;

export const RunDetail = RunRow.omit({ metrics: true }).extend({
  hardware: z.record(z.string(), z.unknown()).nullable(),
  workerId: z.string().nullable(),
  maxAttempts: z.number().int(),
  seed: z.number().int().nullable(),
  codeVersion: z.string().nullable(),
  leaseExpiresAt: z.number().nullable(),
  metrics: z.array(MetricValue),
  /** Status transitions (run_events with level "status"), oldest first. */
  statusHistory: z.array(RunEvent),
  /** Every log line and progress note, oldest first (the last 2000). */
  events: z.array(RunEvent),
  artifacts: z.array(RunArtifact),
  /** Metric keys with a time series in metric_points. */
  seriesKeys: z.array(z.string()),
});
export type RunDetail = z.infer<typeof RunDetail>;

export const MAX_POINTS_PER_BATCH = 10_000;

/** POST /api/v1/runs/:id/metrics — a batch of time-series points, stored in one transaction. */
export const MetricPointsBody = z.strictObject({
  batchId: z
    .string()
    .min(1)
    .max(128)
    .regex(/^[\x21-\x7e]+$/, "printable ASCII without spaces")
    .optional()
    .describe(
      "Idempotency key of this batch, unique per run (a UUID, or the client's step range). A retry carrying a batchId the run already stored writes nothing and answers 200 with the first attempt's count and replayed: true; without it a retried batch is stored again.",
    ),
  points: z
    .array(
      z.strictObject({
        key: metricKeySchema,
        step: z.number().int().min(0).max(Number.MAX_SAFE_INTEGER),
        value: finite,
        ts: z.number().int().min(0).optional(),
      }),
    )
    .min(1)
    .max(MAX_POINTS_PER_BATCH, `at most ${MAX_POINTS_PER_BATCH} points per request`),
});
export type MetricPointsBody = z.infer<typeof MetricPointsBody>;

export const MetricPointsResponse = z.object({
  inserted: z.number().int().describe("Points the batch stored (on a replay: the count the first attempt stored)"),
  replayed: z.boolean().describe("True when the batchId was already stored and nothing was written"),
});
export type MetricPointsResponse = z.infer<typeof MetricPointsResponse>;

export const MetricSeriesQuery = z.strictObject({ key: metricKeySchema.optional() });

export const MetricSeries = z.object({
  key: z.string(),
  points: z.array(z.object({ step: z.number(), value: z.number(), ts: z.number() })),
});
export const MetricSeriesResponse = z.object({ runId: z.number().int(), series: z.array(MetricSeries) });
export type MetricSeriesResponse = z.infer<typeof MetricSeriesResponse>;

export const RunActionResponse = z.object({ id: z.number().int(), status: RunStatus });
export type RunActionResponse = z.infer<typeof RunActionResponse>;
