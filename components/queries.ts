"use client";

import { keepPreviousData, useMutation, useQuery, useQueryClient } from "@tanstack/react-query";
import { useEffect, useRef } from "react";
import { api, isActive, type RunDetail } from "@/lib/api-client";
import { qk, type QueryParams } from "@/lib/query-keys";

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
    refetchInterval: (q) =>
      q.state.data?.some((e) => (e.statusCounts.queued ?? 0) + (e.statusCounts.leased ?? 0) + (e.statusCounts.running ?? 0) > 0) ? LIVE_MS : false,
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

/** `live` while runs are in flight, so a front forms on screen as they finish. */
export const usePareto = (params: QueryParams, live = false) =>
  useQuery({
    queryKey: qk.pareto.view(params),
    queryFn: () => api.pareto(params),
    placeholderData: keepPreviousData,
    refetchInterval: live ? 3000 : false,
  });

/** One request for several charts (same y, group and filter; one x each), `data.charts` in `xs` order. */
export const useParetoCharts = (params: QueryParams, xs: string[], live = false) =>
  useQuery({
    queryKey: qk.pareto.charts(params, xs),
    queryFn: () => api.paretoCharts(params, xs),
    placeholderData: keepPreviousData,
    refetchInterval: live ? 3000 : false,
  });

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
