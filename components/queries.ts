"use client";

import { keepPreviousData, useMutation, useQuery, useQueryClient } from "@tanstack/react-query";
import { useEffect, useMemo, useRef, useState } from "react";
import { api, isActive, runsInFlight, type ParetoResponse, type RunDetail, type RunsPage } from "@/lib/api-client";
import { paretoGroupOf } from "@/lib/pareto";
import { qk, type QueryParams } from "@/lib/query-keys";
import type { ParetoGroupBy } from "@/lib/schemas/pareto";
import type { Pt } from "./pareto-chart";

/** Live views poll while work is in flight; 1.5 s keeps a progress bar moving without load. */
const LIVE_MS = 1500;

export const useMethods = () => useQuery({ queryKey: qk.methods(), queryFn: api.methods, staleTime: 300_000 });
export const useModels = (enabled = true) => useQuery({ queryKey: qk.models(), queryFn: api.models, staleTime: 60_000, enabled });
export const useDatasets = (enabled = true) => useQuery({ queryKey: qk.datasets(), queryFn: api.datasets, staleTime: 60_000, enabled });
export const useWorkers = () => useQuery({ queryKey: qk.workers(), queryFn: api.workers, staleTime: 10_000 });

export const useExperiments = (enabled = true) =>
  useQuery({
    queryKey: qk.experiments.list(),
    queryFn: api.experiments,
    enabled,
    refetchInterval: (q) => (runsInFlight(q.state.data) ? LIVE_MS : false),
  });

export const useExperiment = (id: number) =>
  useQuery({
    queryKey: qk.experiments.detail(id),
    queryFn: () => api.experiment(id),
    refetchInterval: (q) => (q.state.data?.runs.some((r) => isActive(r.status)) ? LIVE_MS : false),
  });

export const useRuns = (params: QueryParams, enabled = true) =>
  useQuery({
    queryKey: qk.runs.list(params),
    queryFn: () => api.runs(params),
    enabled,
    placeholderData: keepPreviousData,
    refetchInterval: (q) => (q.state.data?.runs.some((r) => isActive(r.status)) ? LIVE_MS : false),
  });

export const useRun = (id: number, enabled = true) =>
  useQuery({
    queryKey: qk.runs.detail(id),
    queryFn: () => api.run(id),
    enabled: enabled && id > 0,
    refetchInterval: (q) => (q.state.data && isActive(q.state.data.status) ? LIVE_MS : false),
  });

export const useRunSeries = (id: number, key: string | null, live: boolean) =>
  useQuery({
    queryKey: qk.runs.series(id, key ?? ""),
    queryFn: () => api.runSeries(id, key!),
    enabled: key !== null,
    refetchInterval: live ? LIVE_MS : false,
  });

/**
 * One request for several charts (same y, group and filter; one x each), `data.charts` in `xs` order.
 * `live` while runs are in flight, so a front forms on screen as they finish.
 */
export const useParetoCharts = (params: QueryParams, xs: string[], live = false) =>
  useQuery({
    queryKey: qk.pareto.charts(params, xs),
    queryFn: () => api.paretoCharts(params, xs),
    placeholderData: keepPreviousData,
    refetchInterval: live ? 3000 : false,
  });

/** The (model, dataset, runtime, hardware) contexts under a filter, for the explorer's context picker. */
export const useContexts = (params: QueryParams, enabled = true) =>
  useQuery({ queryKey: qk.pareto.contexts(params), queryFn: () => api.contexts(params), enabled, placeholderData: keepPreviousData });

/** The filter without its context dimensions: what the context picker lists contexts under. */
export const CONTEXT_KEYS = ["model", "dataset", "runtime", "hardware"] as const;

/**
 * Refetches fronts when `finished` (a count of finished runs) changes: polling stops with the last
 * active run, so the fetch that shows that run's point must be asked for explicitly.
 */
export function useRefreshFrontsOn(finished: number) {
  const qc = useQueryClient();
  const last = useRef(finished);
  useEffect(() => {
    if (last.current === finished) return;
    last.current = finished;
    void qc.invalidateQueries({ queryKey: qk.pareto.all });
  }, [finished, qc]);
}

/**
 * `value` while `ready`, otherwise the value of the last committed render in which it was ready
 * (`initial` before that). The latch is written after commit, never during render; while `ready`
 * this render's value is returned directly, so nothing waits for the latch.
 */
function useLastReady<T>(value: T, ready: boolean, initial: T): T {
  const [last, setLast] = useState<T>(initial);
  useEffect(() => {
    if (ready) setLast(() => value);
  }, [ready, value]);
  return ready ? value : last;
}

/** Front points are sent in full; dominated ones are sampled so 100k runs never reach the browser. */
const MAX_DOMINATED = "2000";
const RECENT = { limit: "100" };

/** What the Pareto explorer shows: the axes and grouping of its view, the run filter, and whether it is a shared (read-only) view. */
export interface ExplorerView {
  filters: QueryParams;
  y: string;
  xl: string;
  xm: string;
  group: ParetoGroupBy;
  readOnly: boolean;
  /** "seeds": runs differing only by seed drawn as one mean point with ± sd bars. */
  aggregate?: "none" | "seeds";
}

/** The fronts and baselines of one view, swapped in together. */
interface Shown {
  charts?: { charts: ParetoResponse[] };
  baselines?: RunsPage;
  wantsBaselines: boolean;
}
const NOTHING_SHOWN: Shown = { wantsBaselines: false };

/** A baseline run's interval bounds of the charted x and y, as the Pareto answer gives them for other runs. */
function bounds(m: Record<string, number>, x: string, y: string): Pick<Pt, "xLo" | "xHi" | "yLo" | "yHi"> {
  const out: Pick<Pt, "xLo" | "xHi" | "yLo" | "yHi"> = {};
  if (m[`${x}_lo`] !== undefined && m[`${x}_hi`] !== undefined) Object.assign(out, { xLo: m[`${x}_lo`], xHi: m[`${x}_hi`] });
  if (m[`${y}_lo`] !== undefined && m[`${y}_hi`] !== undefined) Object.assign(out, { yLo: m[`${y}_lo`], yHi: m[`${y}_hi`] });
  return out;
}

/**
 * The Pareto explorer's requests: both charts in one request, the recent runs behind the metric
 * pickers, the baseline runs, and the experiments (whether runs are in flight, and a refresh of the
 * fronts when one finishes).
 */
export function useExplorerData({ filters, y, xl, xm, group, readOnly, aggregate = "none" }: ExplorerView) {
  // On page load the charts' request goes first and alone: sharing 2 cores with the pickers' runs,
  // the baselines, the lists and server rendering it took 344 ms median (max 449) over 100k runs
  // against 145 ms on a filter change (scripts/bench-dashboard.ts). Everything else waits until it
  // has answered (or failed) once; after that, queries run side by side as before.
  const [primed, setPrimed] = useState(false);
  // A shared view never polls (nothing is live in it), and its link reads no experiment list.
  const experiments = useExperiments(primed && !readOnly);
  const live = !readOnly && runsInFlight(experiments.data);
  useRefreshFrontsOn((experiments.data ?? []).reduce((n, e) => n + (e.statusCounts.succeeded ?? 0), 0));
  // Both charts in one request: the y column, the groups and the filter are read once, and the two
  // charts no longer compete for the server's cores (two concurrent requests on 2 cores: 423 ms
  // median each, scripts/bench-dashboard.ts). One answer also means one redraw per change.
  // The key is hashed by value, so new params objects with the same entries ask nothing new.
  // scope=latest: a filter that spans several (model, dataset, runtime, hardware) contexts shows the
  // most recent one; the picker (useContexts) offers the others. A front never spans two.
  const charts = useParetoCharts(
    { ...filters, y, group, maxDominated: MAX_DOMINATED, scope: "latest", ...(aggregate === "seeds" ? { aggregate } : {}) },
    [xl, xm],
    live,
  );
  const answered = (charts.isSuccess && !charts.isPlaceholderData) || charts.isError;
  useEffect(() => {
    if (answered) setPrimed(true);
  }, [answered]);
  // The render in which the charts answer already lets the queries below start.
  const load = primed || answered;

  // The latest runs tell the pickers which metrics runs actually carry (and whether there are any).
  // A shared view's link reads only runs under its filter (lib/share-scope), so its pickers look there.
  const recent = useRuns(readOnly ? { ...filters, ...RECENT } : RECENT, load);
  const seen = useMemo(() => {
    const s = new Set<string>();
    for (const r of recent.data?.runs ?? []) for (const k of Object.keys(r.metrics)) s.add(k);
    return s;
  }, [recent.data]);

  const listOf = (v: string | string[]) => (Array.isArray(v) ? v : [v]);
  const methodFilter = filters.method;
  const wantsBaselines = !methodFilter || listOf(methodFilter).includes("baseline");
  // A shared view's link reads only within its filter (lib/share-scope): it asks for baselines only
  // where its method and status filters hold them (a refused read would be retried before the charts show).
  const statusFilter = filters.status;
  const fetchBaselines = !readOnly || (wantsBaselines && (!statusFilter || listOf(statusFilter).includes("succeeded")));
  const baselineRuns = useRuns({ ...filters, method: "baseline", status: "succeeded", limit: "200" }, load && fetchBaselines);

  // The charts show the fronts and baselines of one view together: the last state where both
  // answers are for the current query. Swapping them in as they arrive meant two redraws of every
  // chart per filter change (one per answer), each a main-thread task of 100-200 ms on 100k runs.
  const baselinesReady = !fetchBaselines || (!baselineRuns.isPending && !baselineRuns.isPlaceholderData);
  const ready = !charts.isPending && !charts.isPlaceholderData && baselinesReady;
  const baselineData = fetchBaselines ? baselineRuns.data : undefined;
  const current = useMemo<Shown>(() => ({ charts: charts.data, baselines: baselineData, wantsBaselines }), [charts.data, baselineData, wantsBaselines]);
  const shown = useLastReady(current, ready, NOTHING_SHOWN);
  const lat = shown.charts?.charts[0];
  const mem = shown.charts?.charts[1];
  const context = lat?.contexts[0] ?? mem?.contexts[0] ?? null;
  // A shared view's picker offers the contexts within its filter: its link reads nothing wider.
  const contextFilter = useMemo(() => {
    const f: QueryParams = { ...filters };
    if (!readOnly) for (const k of CONTEXT_KEYS) delete f[k];
    return f;
  }, [filters, readOnly]);
  const contexts = useContexts(contextFilter, load);

  // The axes of the fronts shown, so baselines never appear against another view's axes.
  const [by, yk, xlk, xmk] = lat && mem ? [lat.group, lat.y.key, lat.x.key, mem.x.key] : [group, y, xl, xm];
  const ctx = context;
  const baselines = useMemo(() => {
    const toPts = (x: string): Pt[] =>
      shown.wantsBaselines
        ? (shown.baselines?.runs ?? [])
            // only the shown context's baseline: another model's would sit on these axes as if comparable
            .filter(
              (r) => !ctx || (r.modelId === ctx.modelId && r.datasetId === ctx.datasetId && r.runtime === ctx.runtime && r.hardwareKey === ctx.hardwareKey),
            )
            .filter((r) => r.metrics[x] !== undefined && r.metrics[yk] !== undefined)
            .map((r) => ({
              runId: r.id,
              x: r.metrics[x],
              y: r.metrics[yk],
              ...bounds(r.metrics, x, yk),
              group: paretoGroupOf(r, by),
              baseline: true,
              methodId: r.methodId,
              params: r.params,
              modelId: r.modelId,
              datasetId: r.datasetId,
              runtime: r.runtime,
              hardwareKey: r.hardwareKey,
            }))
        : [];
    return { lat: toPts(xlk), mem: toPts(xmk) };
  }, [shown.wantsBaselines, shown.baselines, by, yk, xlk, xmk, ctx]);

  const colorKeys = useMemo(() => [...new Set([...(lat?.groups ?? []), ...(mem?.groups ?? [])].map((g) => g.key))].sort(), [lat, mem]);

  return {
    /** Whether the queries after the charts' first answer have started (lists the filter bar and hints may load). */
    load,
    live,
    recent,
    seen,
    lat,
    mem,
    error: charts.error,
    baselines,
    colorKeys,
    /** The context the charts show (null before the first answer or when no run matches). */
    context,
    /** Every context under the filter without its context keys: the picker's options. */
    contexts: contexts.data ?? [],
    fetching: charts.isFetching || baselineRuns.isFetching,
  };
}

/** Anything that changes a run changes lists, experiments and fronts too. */
function useInvalidateRuns() {
  const qc = useQueryClient();
  return () =>
    Promise.all([
      qc.invalidateQueries({ queryKey: qk.runs.all }),
      qc.invalidateQueries({ queryKey: qk.experiments.all }),
      qc.invalidateQueries({ queryKey: qk.pareto.all }),
    ]);
}

export function useRunAction(action: "cancel" | "retry") {
  const invalidate = useInvalidateRuns();
  return useMutation({
    mutationFn: (id: number) => (action === "cancel" ? api.cancelRun(id) : api.retryRun(id)),
    onSettled: invalidate,
  });
}

export function usePatchRun(id: number) {
  const qc = useQueryClient();
  const invalidate = useInvalidateRuns();
  return useMutation({
    mutationFn: (body: { tags?: string[]; notes?: string | null }) => api.patchRun(id, body),
    onSuccess: (run: RunDetail) => qc.setQueryData(qk.runs.detail(id), run),
    onSettled: invalidate,
  });
}

export function useCreateExperiment() {
  const invalidate = useInvalidateRuns();
  return useMutation({ mutationFn: api.createExperiment, onSuccess: invalidate });
}
