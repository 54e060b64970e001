import { z } from "zod";
import { ErrorResponse, IdParams } from "./schemas/common";
import { MethodsResponse } from "./schemas/methods";
import { ModelRow, ModelsResponse, RegisterModelBody } from "./schemas/models";
import { DatasetRow, DatasetsResponse, RegisterDatasetBody } from "./schemas/datasets";
import { CreateExperimentBody, CreateExperimentResponse, ExperimentDetail, ExperimentsResponse } from "./schemas/experiments";
import { RunFilterQuery } from "./schemas/filters";
import {
  LogRunBody,
  LogRunResponse,
  MetricPointsBody,
  MetricPointsResponse,
  MetricSeriesQuery,
  MetricSeriesResponse,
  PatchRunBody,
  RunActionResponse,
  RunDetail,
  RunsPage,
} from "./schemas/runs";
import { BulkTagsBody, BulkTagsResponse, RunGroupsPage, RunsListQuery } from "./schemas/run-groups";
import { CreateSavedViewBody, SavedView, SavedViewsResponse } from "./schemas/saved-views";
import { ParetoChartsResponse, ParetoContext, ParetoQuery, ParetoResponse } from "./schemas/pareto";
import { ExportQuery } from "./schemas/export";
import { GgufQuery } from "./schemas/gguf";
import {
  CompleteBody,
  CompleteResponse,
  FailBody,
  FailResponse,
  HeartbeatBody,
  HeartbeatResponse,
  LeaseBody,
  LeaseResponse,
  WorkerRegisterBody,
  WorkerRegisterResponse,
  WorkersResponse,
} from "./schemas/workers";
import { CreateShareRequest, CreateShareResponse, ShareLinkResponse } from "./schemas/share";
import { SessionResponse, SignInBody, SignInResponse } from "./schemas/session";

/**
 * The OpenAPI 3.1 document, generated from the same zod schemas the routes parse with. Each
 * endpoint is one entry of OPERATIONS: adding an endpoint to the document is one line here.
 */
export interface Operation {
  method: "get" | "post" | "patch" | "delete";
  /** OpenAPI path, parameters in braces: /api/v1/runs/{id} */
  path: string;
  summary: string;
  tag: string;
  pathParams?: z.ZodObject;
  query?: z.ZodObject;
  body?: z.ZodType;
  /** Success status and body (a zod schema, or a media type for non-JSON answers). */
  ok?: { status: number; schema?: z.ZodType; media?: string };
  /** Endpoints that take the worker's bearer token. */
  auth?: boolean;
  /** Accepts the run filter keys (and metric.<key><op><value> ranges). */
  runFilter?: boolean;
  /** Further error statuses the endpoint answers, with what each means. */
  errors?: Record<number, string>;
}

const id = IdParams;
const token = z.object({ token: z.string() });
const Empty = z.object({});
const HealthResponse = z.object({
  status: z.enum(["ok", "degraded"]),
  reason: z.string().optional().describe("Why the database refuses writes (degraded only)"),
  runs: z.number().optional(),
  time: z.string(),
});

export const OPERATIONS: Operation[] = [
  {
    method: "get",
    path: "/api/v1/health",
    summary: "Liveness plus a database write check; 503 with status degraded and the reason when the database refuses writes",
    tag: "meta",
    ok: { status: 200, schema: HealthResponse },
  },
  { method: "get", path: "/api/v1/openapi.json", summary: "This document", tag: "meta", ok: { status: 200, media: "application/json" } },
  {
    method: "get",
    path: "/api/v1/methods",
    summary: "Method registry with params as JSON Schema",
    tag: "registry",
    ok: { status: 200, schema: MethodsResponse },
  },
  { method: "get", path: "/api/v1/models", summary: "Registered models", tag: "registry", ok: { status: 200, schema: ModelsResponse } },
  {
    method: "post",
    path: "/api/v1/models",
    summary: "Register a model directory by path",
    tag: "registry",
    body: RegisterModelBody,
    ok: { status: 201, schema: ModelRow },
  },
  { method: "get", path: "/api/v1/datasets", summary: "Registered datasets", tag: "registry", ok: { status: 200, schema: DatasetsResponse } },
  {
    method: "post",
    path: "/api/v1/datasets",
    summary: "Register a JSONL dataset by path",
    tag: "registry",
    body: RegisterDatasetBody,
    ok: { status: 201, schema: DatasetRow },
  },
  {
    method: "get",
    path: "/api/v1/experiments",
    summary: "Experiments with run counts by status",
    tag: "experiments",
    ok: { status: 200, schema: ExperimentsResponse },
  },
  {
    method: "post",
    path: "/api/v1/experiments",
    summary: "Create an experiment; queue one run per grid point",
    tag: "experiments",
    body: CreateExperimentBody,
    ok: { status: 201, schema: CreateExperimentResponse },
  },
  {
    method: "get",
    path: "/api/v1/experiments/{id}",
    summary: "An experiment and its runs",
    tag: "experiments",
    pathParams: id,
    ok: { status: 200, schema: ExperimentDetail },
  },
  {
    method: "get",
    path: "/api/v1/runs",
    summary:
      "Filtered, sorted page of runs; aggregate=seeds answers seed sets instead (runs differing only by seed: one group each, metrics as mean ± sd and n, a metric sort by the mean)",
    tag: "runs",
    query: RunsListQuery,
    runFilter: true,
    ok: { status: 200, schema: z.union([RunsPage, RunGroupsPage]) },
  },
  {
    method: "post",
    path: "/api/v1/runs/tags",
    summary: "Add and/or remove tags on up to 1000 runs in one transaction (404 naming unknown ids, nothing written)",
    tag: "runs",
    body: BulkTagsBody,
    ok: { status: 200, schema: BulkTagsResponse },
    errors: { 404: "Some ids are not runs; the message names them and nothing was written" },
  },
  { method: "post", path: "/api/v1/runs", summary: "Log a run executed elsewhere", tag: "runs", body: LogRunBody, ok: { status: 201, schema: LogRunResponse } },
  { method: "get", path: "/api/v1/runs/{id}", summary: "A run in full", tag: "runs", pathParams: id, ok: { status: 200, schema: RunDetail } },
  {
    method: "get",
    path: "/api/v1/runs/{id}/artifacts/{artifactId}",
    summary: "Download one of a run's files (its quantized or pruned model); 404 when a worker on another machine wrote it",
    tag: "runs",
    pathParams: z.object({ id: z.string(), artifactId: z.string() }),
    ok: { status: 200, media: "application/octet-stream" },
  },
  {
    method: "get",
    path: "/api/v1/runs/{id}/gguf",
    summary:
      "The run's model as GGUF for llama.cpp/Ollama (type f32, f16, or q4_0/q8_0 from symmetric group-32 runs); 422 with the reason when a type is not exact; without type, which types are exact",
    tag: "runs",
    pathParams: id,
    query: GgufQuery,
    ok: { status: 200, media: "application/octet-stream" },
  },
  {
    method: "patch",
    path: "/api/v1/runs/{id}",
    summary: "Edit a run's tags and notes",
    tag: "runs",
    pathParams: id,
    body: PatchRunBody,
    ok: { status: 200, schema: RunDetail },
  },
  {
    method: "post",
    path: "/api/v1/runs/{id}/cancel",
    summary: "Cancel a queued, leased or running run",
    tag: "runs",
    pathParams: id,
    ok: { status: 200, schema: RunActionResponse },
  },
  {
    method: "post",
    path: "/api/v1/runs/{id}/retry",
    summary: "Queue a failed or canceled run again",
    tag: "runs",
    pathParams: id,
    ok: { status: 200, schema: RunActionResponse },
  },
  {
    method: "get",
    path: "/api/v1/runs/{id}/metrics",
    summary: "A run's time series",
    tag: "runs",
    pathParams: id,
    query: MetricSeriesQuery,
    ok: { status: 200, schema: MetricSeriesResponse },
  },
  {
    method: "post",
    path: "/api/v1/runs/{id}/metrics",
    summary: "Append up to 10,000 time-series points (201; a retry with the same batchId stores nothing and answers 200)",
    tag: "runs",
    pathParams: id,
    body: MetricPointsBody,
    ok: { status: 201, schema: MetricPointsResponse },
  },
  {
    method: "get",
    path: "/api/v1/pareto",
    summary: "Pareto fronts per group with hypervolumes (x=a,b: one chart per x metric in one call)",
    tag: "analysis",
    query: ParetoQuery,
    runFilter: true,
    ok: { status: 200, schema: z.union([ParetoResponse, ParetoChartsResponse]) },
  },
  {
    method: "get",
    path: "/api/v1/contexts",
    summary: "The (model, dataset, runtime, hardware) contexts of the finished runs matching the filter, most recent first, with run counts and baselines",
    tag: "analysis",
    runFilter: true,
    ok: { status: 200, schema: z.object({ contexts: z.array(ParetoContext) }) },
  },
  {
    method: "get",
    path: "/api/v1/export",
    summary: "Every matching run as CSV or JSON (streamed)",
    tag: "analysis",
    query: ExportQuery,
    runFilter: true,
    ok: { status: 200, media: "text/csv" },
  },
  { method: "get", path: "/api/v1/workers", summary: "Registered workers and their runtimes", tag: "workers", ok: { status: 200, schema: WorkersResponse } },
  {
    method: "post",
    path: "/api/v1/workers/{id}/revoke",
    summary: "Revoke a worker's token (its next request is refused)",
    tag: "workers",
    pathParams: z.object({ id: z.string() }),
    ok: { status: 200, schema: Empty.passthrough() },
  },
  {
    method: "get",
    path: "/api/v1/session",
    summary: "Auth mode and whether this browser is signed in",
    tag: "session",
    ok: { status: 200, schema: SessionResponse },
  },
  {
    method: "post",
    path: "/api/v1/session",
    summary: "Sign in with an API token: sets the http-only session cookie and the CSRF cookie",
    tag: "session",
    body: SignInBody,
    ok: { status: 201, schema: SignInResponse },
  },
  { method: "delete", path: "/api/v1/session", summary: "Sign out", tag: "session", ok: { status: 200, schema: Empty.passthrough() } },
  {
    method: "post",
    path: "/api/v1/workers/register",
    summary: "Enroll a worker (enrollment token as bearer)",
    tag: "workers",
    auth: true,
    body: WorkerRegisterBody,
    ok: { status: 201, schema: WorkerRegisterResponse },
  },
  {
    method: "post",
    path: "/api/v1/workers/lease",
    summary: "Lease the next queued run (204 when none)",
    tag: "workers",
    auth: true,
    body: LeaseBody,
    ok: { status: 200, schema: LeaseResponse },
  },
  {
    method: "post",
    path: "/api/v1/runs/{id}/heartbeat",
    summary: "Extend the lease and report progress",
    tag: "workers",
    auth: true,
    pathParams: id,
    body: HeartbeatBody,
    ok: { status: 200, schema: HeartbeatResponse },
  },
  {
    method: "post",
    path: "/api/v1/runs/{id}/complete",
    summary: "Report a run's metrics and artifacts",
    tag: "workers",
    auth: true,
    pathParams: id,
    body: CompleteBody,
    ok: { status: 200, schema: CompleteResponse },
  },
  {
    method: "post",
    path: "/api/v1/runs/{id}/fail",
    summary: "End an attempt with an error",
    tag: "workers",
    auth: true,
    pathParams: id,
    body: FailBody,
    ok: { status: 200, schema: FailResponse },
  },
  {
    method: "post",
    path: "/api/v1/share",
    summary: "Store a dashboard view; answer its short link",
    tag: "share",
    body: CreateShareRequest,
    ok: { status: 201, schema: CreateShareResponse },
  },
  {
    method: "get",
    path: "/api/v1/share/{token}",
    summary: "A shared view (410 once revoked or expired)",
    tag: "share",
    pathParams: token,
    ok: { status: 200, schema: ShareLinkResponse },
  },
  {
    method: "delete",
    path: "/api/v1/share/{token}",
    summary: "Revoke a share link",
    tag: "share",
    pathParams: token,
    ok: { status: 200, schema: Empty.passthrough() },
  },
  { method: "get", path: "/api/v1/views", summary: "Saved dashboard views, by name", tag: "views", ok: { status: 200, schema: SavedViewsResponse } },
  {
    method: "post",
    path: "/api/v1/views",
    summary: "Save the current view under a name (409 when the name is taken)",
    tag: "views",
    body: CreateSavedViewBody,
    ok: { status: 201, schema: SavedView },
    errors: { 409: "A saved view already has this name" },
  },
  {
    method: "delete",
    path: "/api/v1/views/{id}",
    summary: "Delete a saved view; answers the deleted view",
    tag: "views",
    pathParams: id,
    ok: { status: 200, schema: SavedView },
  },
];

const jsonSchema = (s: z.ZodType, io: "input" | "output") =>
  z.toJSONSchema(s, { io, unrepresentable: "any", target: "draft-2020-12" }) as Record<string, unknown>;

function parameters(s: z.ZodObject, where: "path" | "query"): Record<string, unknown>[] {
  const schema = jsonSchema(s, "input") as { properties?: Record<string, Record<string, unknown>>; required?: string[] };
  return Object.entries(schema.properties ?? {}).map(([name, prop]) => ({
    name,
    in: where,
    required: where === "path" || (schema.required ?? []).includes(name),
    schema: prop,
  }));
}

const metricRangeParam = {
  name: "metric.{key}{op}{value}",
  in: "query",
  required: false,
  description: "Metric range, e.g. metric.accuracy>=0.9 or metric.perplexity<12 (op: >=, <=, >, <, =); repeatable; also metric=accuracy:gte:0.9",
  schema: { type: "string" },
};

const paramFilterParam = {
  name: "param.{name}{op}{value}",
  in: "query",
  required: false,
  description:
    "Parameter condition, e.g. param.bits=4, param.group_size>=64 or param.format=qdq (op: >=, <=, >, <, =; ranges compare numbers, = also text and true/false); repeatable; counts toward the 50-filter limit with metric ranges",
  schema: { type: "string" },
};

export function buildOpenApi(): Record<string, unknown> {
  const paths: Record<string, Record<string, unknown>> = {};
  for (const op of OPERATIONS) {
    const params = [
      ...(op.pathParams ? parameters(op.pathParams, "path") : []),
      ...(op.runFilter ? [...parameters(RunFilterQuery, "query"), metricRangeParam, paramFilterParam] : []),
      ...(op.query ? parameters(op.query, "query") : []),
    ];
    const ok = op.ok ?? { status: 200 };
    const responses: Record<string, unknown> = {
      [ok.status]: {
        description: "OK",
        content: ok.schema ? { "application/json": { schema: jsonSchema(ok.schema, "output") } } : { [ok.media ?? "application/json"]: {} },
      },
      "400": { description: "Invalid request; details name each field", content: { "application/json": { schema: jsonSchema(ErrorResponse, "output") } } },
    };
    responses["503"] = {
      description: "Database unavailable: read-only, disk full or busy (busy answers Retry-After)",
      content: { "application/json": { schema: jsonSchema(ErrorResponse, "output") } },
    };
    if (op.pathParams) responses["404"] = { description: "Not found", content: { "application/json": { schema: jsonSchema(ErrorResponse, "output") } } };
    if (op.method !== "get") {
      responses["403"] = {
        description: "Cross-origin request, or a signed-in write without its CSRF token",
        content: { "application/json": { schema: jsonSchema(ErrorResponse, "output") } },
      };
      responses["415"] = { description: "The body is not JSON", content: { "application/json": { schema: jsonSchema(ErrorResponse, "output") } } };
    }
    for (const [status, description] of Object.entries(op.errors ?? {}))
      responses[status] = { description, content: { "application/json": { schema: jsonSchema(ErrorResponse, "output") } } };
    if (op.auth)
      responses["401"] = { description: "Missing or wrong bearer token", content: { "application/json": { schema: jsonSchema(ErrorResponse, "output") } } };
    (paths[op.path] ??= {})[op.method] = {
      summary: op.summary,
      tags: [op.tag],
      operationId: `${op.method}${op.path
        .replace(/^\/api\/v1/, "")
        .replace(/[{}]/g, "")
        .replace(/[/.-](\w)/g, (_, c: string) => c.toUpperCase())}`,
      ...(params.length ? { parameters: params } : {}),
      ...(op.body ? { requestBody: { required: true, content: { "application/json": { schema: jsonSchema(op.body, "input") } } } } : {}),
      ...(op.auth ? { security: [{ bearer: [] }] } : {}),
      responses,
    };
  }
  return {
    openapi: "3.1.0",
    info: { title: "Frontier API", version: "1.0.0", description: "Experiment tracker and benchmark dashboard for model compression" },
    servers: [{ url: "/" }],
    // With FRONTIER_AUTH=token every write (and with FRONTIER_READ=token every read) takes an API token as bearer.
    components: { securitySchemes: { bearer: { type: "http", scheme: "bearer" } } },
    paths,
  };
}
