/**
 * Typed fetch helpers over /api/v1, used by the react-query hooks in components/queries.ts.
 * Errors carry the server's message and per-field details so forms can show them by their fields.
 */
import type { z } from "zod";
import type { QueryParams } from "./query-keys";
import type { CreateShareRequest, CreateShareResponse } from "./schemas/share";
import type { SessionResponse } from "./schemas/session";
import type { BulkTagsBody, BulkTagsResponse, RunGroupsPage } from "./schemas/run-groups";
import type { CreateSavedViewBody, SavedView, SavedViewsResponse } from "./schemas/saved-views";

export class ApiError extends Error {
  constructor(
    public status: number,
    message: string,
    public details: { field: string; message: string }[] = [],
  ) {
    super(message);
  }
}

export type { RunStatus } from "./schemas/common";
export type { MethodInfo } from "./schemas/methods";
export type { WorkerInfo } from "./schemas/workers";
export type { ModelRow } from "./schemas/models";
export type { DatasetRow } from "./schemas/datasets";
export type {
  RunRow,
  RunDetail,
  RunsPage,
  MetricValue,
  RunEvent,
  RunArtifact,
  MetricSeriesResponse,
  RunActionResponse,
  LogRunBody,
} from "./schemas/runs";
export type { ExperimentRow, ExperimentDetail, ExperimentRun, CreateExperimentBody, CreateExperimentResponse } from "./schemas/experiments";
export type { RunGroup, RunGroupsPage, SeedMetric } from "./schemas/run-groups";
export type { SavedView } from "./schemas/saved-views";
export type { ParetoResponse, ParetoChartsResponse, ParetoContext, FrontPoint, DominatedPoint } from "./schemas/pareto";

import type { MethodsResponse } from "./schemas/methods";
import type { WorkersResponse } from "./schemas/workers";
import type { ModelRow, ModelsResponse, RegisterModelBody } from "./schemas/models";
import type { DatasetsResponse } from "./schemas/datasets";
import type { RunDetail, RunsPage, MetricSeriesResponse, RunActionResponse } from "./schemas/runs";
import type { ExperimentsResponse, ExperimentDetail, ExperimentRow, CreateExperimentBody, CreateExperimentResponse } from "./schemas/experiments";
import { expandChart, type ParetoChartsResponse, type ParetoContext, type ParetoResponse } from "./schemas/pareto";

export const ACTIVE_STATUSES = ["queued", "leased", "running"] as const;
export const isActive = (s: string) => (ACTIVE_STATUSES as readonly string[]).includes(s);
/** Whether any of these experiments has runs queued, leased or running: live views poll while one does. */
export const runsInFlight = (experiments: readonly Pick<ExperimentRow, "statusCounts">[] | undefined) =>
  (experiments ?? []).some((e) => ACTIVE_STATUSES.some((s) => (e.statusCounts[s] ?? 0) > 0));

/** The subset of JSON Schema the submission form reads from the registry's params. */
export interface JsonSchema {
  type?: string | string[];
  enum?: unknown[];
  const?: unknown;
  anyOf?: JsonSchema[];
  oneOf?: JsonSchema[];
  items?: JsonSchema;
  minimum?: number;
  maximum?: number;
  exclusiveMinimum?: number;
  exclusiveMaximum?: number;
  default?: unknown;
  description?: string;
  properties?: Record<string, JsonSchema>;
}

export function toQueryString(params: QueryParams | undefined): string {
  if (!params) return "";
  const sp = new URLSearchParams();
  for (const [k, v] of Object.entries(params)) for (const one of Array.isArray(v) ? v : [v]) if (one !== "") sp.append(k, one);
  const s = sp.toString();
  return s ? `?${s}` : "";
}

/** The CSRF token the server set at sign-in (the readable frontier_csrf cookie); every write sends it back in a header. */
function csrfToken(): string | null {
  if (typeof document === "undefined") return null;
  const m = /(?:^|;\s*)frontier_csrf=([^;]+)/.exec(document.cookie);
  return m ? m[1] : null;
}

let shareToken: string | null = null;
/** On a shared view's page: its link token, sent with every read so a server that requires tokens for reads lets the view load. */
export function setShareToken(token: string | null): void {
  shareToken = token;
}

async function request<T>(method: string, path: string, body?: unknown): Promise<T> {
  const headers: Record<string, string> = {};
  if (body !== undefined) headers["content-type"] = "application/json";
  const csrf = method === "GET" ? null : csrfToken();
  if (csrf) headers["x-frontier-csrf"] = csrf;
  if (method === "GET" && shareToken) headers["x-frontier-share"] = shareToken;
  const res = await fetch(`/api/v1${path}`, {
    method,
    headers,
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await res.text();
  let json: unknown = null;
  try {
    json = text ? JSON.parse(text) : null;
  } catch {
    // a non-JSON error page: report its status below
  }
  if (!res.ok) {
    const j = (json ?? {}) as { error?: string; details?: { field: string; message: string }[] };
    throw new ApiError(res.status, j.error ?? `${method} ${path} failed with HTTP ${res.status}`, j.details ?? []);
  }
  return json as T;
}

export const api = {
  methods: () => request<MethodsResponse>("GET", "/methods").then((r) => r.methods),
  models: () => request<ModelsResponse>("GET", "/models").then((r) => r.models),
  registerModel: (body: z.input<typeof RegisterModelBody>) => request<ModelRow>("POST", "/models", body),
  /** Which GGUF types a run's model exports exactly (and why not the others), with download links. */
  runGguf: (id: number) =>
    request<{ runId: number; types: { type: string; exact: boolean; reason: string | null; url: string | null }[] }>("GET", `/runs/${id}/gguf`),
  datasets: () => request<DatasetsResponse>("GET", "/datasets").then((r) => r.datasets),
  workers: () => request<WorkersResponse>("GET", "/workers").then((r) => r.workers),
  experiments: () => request<ExperimentsResponse>("GET", "/experiments").then((r) => r.experiments),
  experiment: (id: number) => request<ExperimentDetail>("GET", `/experiments/${id}`),
  createExperiment: (body: z.input<typeof CreateExperimentBody>) => request<CreateExperimentResponse>("POST", "/experiments", body),
  runs: (params: QueryParams) => request<RunsPage>("GET", `/runs${toQueryString(params)}`),
  /** Seed sets (runs differing only by seed) under the same filter, sort and page keys as `runs`. */
  runGroups: (params: QueryParams) => request<RunGroupsPage>("GET", `/runs${toQueryString({ ...params, aggregate: "seeds" })}`),
  bulkTags: (body: BulkTagsBody) => request<BulkTagsResponse>("POST", "/runs/tags", body),
  run: (id: number) => request<RunDetail>("GET", `/runs/${id}`),
  runSeries: (id: number, key?: string) => request<MetricSeriesResponse>("GET", `/runs/${id}/metrics${toQueryString(key ? { key } : {})}`),
  patchRun: (id: number, body: { tags?: string[]; notes?: string | null }) => request<RunDetail>("PATCH", `/runs/${id}`, body),
  cancelRun: (id: number) => request<RunActionResponse>("POST", `/runs/${id}/cancel`),
  retryRun: (id: number) => request<RunActionResponse>("POST", `/runs/${id}/retry`),
  /** Several charts in one call: `xs` against the same y, group and filter. */
  paretoCharts: (params: QueryParams, xs: string[]) =>
    request<ParetoChartsResponse | ParetoResponse>("GET", `/pareto${toQueryString({ ...params, x: xs.join(",") })}`).then((r): { charts: ParetoResponse[] } =>
      "charts" in r ? { charts: r.charts.map(expandChart) } : { charts: [r] },
    ),
  contexts: (params: QueryParams) => request<{ contexts: ParetoContext[] }>("GET", `/contexts${toQueryString(params)}`).then((r) => r.contexts),
  savedViews: () => request<SavedViewsResponse>("GET", "/views").then((r) => r.views),
  createSavedView: (body: CreateSavedViewBody) => request<SavedView>("POST", "/views", body),
  deleteSavedView: (id: number) => request<SavedView>("DELETE", `/views/${id}`),
  createShare: (body: CreateShareRequest) => request<CreateShareResponse>("POST", "/share", body),
  revokeShare: (token: string) => request<{ revokedAt: number }>("DELETE", `/share/${encodeURIComponent(token)}`),
  session: () => request<SessionResponse>("GET", "/session"),
  signIn: (token: string) => request<{ name: string; expiresAt: number }>("POST", "/session", { token }),
  signOut: () => request<{ signedOut: boolean }>("DELETE", "/session"),
  revokeWorker: (id: string) => request<{ id: string; revoked: boolean }>("POST", `/workers/${encodeURIComponent(id)}/revoke`),
};

export function exportHref(format: "csv" | "json", params: QueryParams): string {
  return `/api/v1/export${toQueryString({ ...params, format })}`;
}
