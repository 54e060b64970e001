"use client";

import Link from "next/link";
import { Fragment, useMemo, useState } from "react";
import { isActive, type ExperimentRun } from "@/lib/api-client";
import { formatMetric, PICKABLE_METRICS } from "@/lib/metrics";
import { ParallelCoords, sweepMetricKeys } from "./parallel-coords";
import { ParetoChart } from "./pareto-chart";
import { useExperiment, useExperiments, useParetoCharts, useRefreshFrontsOn, useRun, useRunAction } from "./queries";
import { RunActions } from "./run-detail";
import { ShareButton } from "./share-button";
import { Empty, ErrorBox, formatTime, paramsSummary, Loading, metricLabel, ProgressBar, StatusBadge, StatusBar } from "./ui";
import { useViewParams } from "./view-params";

export function ExperimentsList() {
  const list = useExperiments();
  if (list.isLoading) return <Loading what="experiments" />;
  return (
    <div>
      <div className="toolbar">
        <h1>Experiments</h1>
        <span className="spacer" />
        <Link className="button" href="/experiments/new">
          New experiment
        </Link>
      </div>
      <ErrorBox error={list.error} />
      {list.data && list.data.length === 0 ? (
        <Empty>
          No experiments yet. <Link href="/experiments/new">Submit one</Link>: pick a model, a dataset and a method, and sweep its parameters.
        </Empty>
      ) : (
        <div className="table-wrap">
          <table data-testid="experiments-table">
            <thead>
              <tr>
                <th>ID</th>
                <th>Name</th>
                <th>Method</th>
                <th>Model</th>
                <th>Dataset</th>
                <th>Runtime</th>
                <th>Progress</th>
                <th>Counts</th>
                <th>Created</th>
              </tr>
            </thead>
            <tbody>
              {(list.data ?? []).map((e) => {
                const c = e.statusCounts;
                const done = (c.succeeded ?? 0) + (c.failed ?? 0) + (c.canceled ?? 0);
                return (
                  <tr key={e.id} data-experiment-id={e.id}>
                    <td>
                      <Link href={`/experiments/${e.id}`} prefetch={false}>
                        #{e.id}
                      </Link>
                    </td>
                    <td>
                      <Link href={`/experiments/${e.id}`} prefetch={false}>
                        {e.name}
                      </Link>
                    </td>
                    <td>{e.methodId}</td>
                    <td>{e.modelId}</td>
                    <td>{e.datasetId}</td>
                    <td>{e.runtime}</td>
                    <td>
                      <StatusBar counts={c} total={e.runCount} />{" "}
                      <span className="muted small">
                        {done}/{e.runCount}
                      </span>
                    </td>
                    <td className="small">
                      {Object.entries(c)
                        .filter(([, n]) => n)
                        .map(([s, n]) => (
                          <span key={s} className={`count status-${s}`}>
                            {n} {s}
                          </span>
                        ))}
                    </td>
                    <td className="muted">{formatTime(e.createdAt)}</td>
                  </tr>
                );
              })}
            </tbody>
          </table>
        </div>
      )}
    </div>
  );
}

/** The quality metric an experiment's runs carry (first in registry order), and a latency and memory one. */
function pickAxes(runs: ExperimentRun[]) {
  const present = new Set(runs.flatMap((r) => Object.keys(r.metrics)));
  const first = (group: string, pref: string[]) =>
    pref.find((k) => present.has(k)) ?? PICKABLE_METRICS.find((m) => m.group === group && present.has(m.key))?.key ?? null;
  return {
    y: first("quality", ["perplexity", "accuracy", "exact_match"]),
    xl: first("latency", ["decode_ms_per_token", "latency_ms_p50"]),
    xm: first("memory", ["model_bytes", "memory_bytes"]),
  };
}

function ExperimentPareto({ id, runs, live }: { id: number; runs: ExperimentRun[]; live: boolean }) {
  const succeeded = runs.filter((r) => r.status === "succeeded");
  const axes = pickAxes(succeeded);
  useRefreshFrontsOn(succeeded.length);
  const hidden = useMemo(() => new Set<string>(), []);
  // Both charts in one request, as in the explorer: the y column, the groups and the filter are read once.
  const charts = useParetoCharts(
    { experiment: String(id), status: "succeeded", group: "method", y: axes.y ?? "perplexity" },
    [axes.xl ?? "decode_ms_per_token", axes.xm ?? "model_bytes"],
    live,
  );
  const [lat, mem] = charts.data?.charts ?? [];
  if (!axes.y || (!axes.xl && !axes.xm)) return <Empty>The Pareto chart appears once runs have finished with a quality and a latency or memory metric.</Empty>;
  const keys = [...new Set([...(lat?.groups ?? []), ...(mem?.groups ?? [])].map((g) => g.key))].sort();
  return (
    <div className="charts">
      {axes.xl && (
        <ParetoChart
          data={lat}
          baselines={[]}
          title={`${metricLabel(axes.y)} vs ${metricLabel(axes.xl)}`}
          colorKeys={keys}
          hidden={hidden}
          logX={false}
          logY={false}
          exportName={`experiment-${id}-latency`}
        />
      )}
      {axes.xm && (
        <ParetoChart
          data={mem}
          baselines={[]}
          title={`${metricLabel(axes.y)} vs ${metricLabel(axes.xm)}`}
          colorKeys={keys}
          hidden={hidden}
          logX={false}
          logY={false}
          exportName={`experiment-${id}-memory`}
        />
      )}
    </div>
  );
}

/** The finished runs of a sweep as parallel coordinates: swept parameters, then metrics. */
function SweepView({ runs }: { runs: ExperimentRun[] }) {
  const done = useMemo(() => runs.filter((r) => r.status === "succeeded"), [runs]);
  const keys = useMemo(() => sweepMetricKeys(done), [done]);
  return <ParallelCoords runs={done} metricKeys={keys} />;
}

/** One run's log lines inline (fetched only while open; live while the run is). */
function RunLogs({ id }: { id: number }) {
  const run = useRun(id);
  const events = run.data?.events ?? [];
  return (
    <div className="logs" data-testid={`logs-${id}`}>
      {run.isLoading && <div className="log">loading…</div>}
      {run.data && events.length === 0 && <div className="log">no log lines yet</div>}
      {events.map((e) => (
        <div key={e.id} className={`log log-${e.level}`}>
          <span className="muted">{formatTime(e.ts).slice(11)}</span> <span className="log-level">{e.level}</span> {e.message}
        </div>
      ))}
    </div>
  );
}

export function ExperimentDetailView({ id }: { id: number }) {
  const exp = useExperiment(id);
  const [open, setOpen] = useState<number | null>(null);
  const { readOnly } = useViewParams();
  const cancel = useRunAction("cancel");
  if (exp.isLoading) return <Loading what={`experiment #${id}`} />;
  if (exp.error || !exp.data) return <ErrorBox error={exp.error ?? new Error("not found")} />;
  const { experiment: e, runs } = exp.data;
  const active = runs.filter((r) => isActive(r.status));
  const metricKeys = PICKABLE_METRICS.map((m) => m.key)
    .filter((k) => runs.some((r) => r.metrics[k] !== undefined))
    .slice(0, 6);
  const done = runs.length - active.length;
  return (
    <div>
      <div className="toolbar">
        <h1>
          {e.name} <span className="muted">#{e.id}</span>
        </h1>
        <span className="spacer" />
        {!readOnly && active.length > 0 && (
          <button
            type="button"
            className="danger"
            onClick={() => {
              if (
                window.confirm(
                  `Cancel ${active.length} active run${active.length === 1 ? "" : "s"} of "${e.name}"? Queued runs will not start; running ones stop.`,
                )
              )
                active.forEach((r) => cancel.mutate(r.id));
            }}
          >
            Cancel {active.length} active
          </button>
        )}
        <ShareButton />
      </div>
      <p className="muted">
        {e.methodId} on {e.modelId} · {e.datasetId} · {e.runtime} · grid{" "}
        <code>
          {Object.keys(e.grid).length
            ? Object.entries(e.grid)
                .map(([k, v]) => `${k}=[${v.join(", ")}]`)
                .join(" ")
            : "defaults"}
        </code>
        {e.description ? ` · ${e.description}` : ""}
      </p>
      <div className="progress-line">
        <ProgressBar value={runs.length ? done / runs.length : 0} /> {done} of {runs.length} runs finished
        {active.length > 0 && <span className="muted"> (live)</span>}
      </div>
      <div className="table-wrap">
        <table data-testid="experiment-runs">
          <thead>
            <tr>
              <th>Run</th>
              <th>Params</th>
              <th>Status</th>
              <th>Stage</th>
              <th>Attempts</th>
              {metricKeys.map((k) => (
                <th key={k} className="num">
                  {metricLabel(k)}
                </th>
              ))}
              <th>Hardware</th>
              <th />
            </tr>
          </thead>
          <tbody>
            {runs.map((r) => (
              <Fragment key={r.id}>
                <tr data-run-id={r.id}>
                  <td>
                    <Link href={`/runs/${r.id}`} prefetch={false}>
                      #{r.id}
                    </Link>
                  </td>
                  <td>{paramsSummary(e.methodId, r.params) || <span className="muted">defaults</span>}</td>
                  <td>
                    <StatusBadge status={r.status} />
                  </td>
                  <td>
                    {isActive(r.status) ? (
                      <>
                        {r.stage ?? "waiting for a worker"} <ProgressBar value={r.progress} />
                      </>
                    ) : r.error ? (
                      <span className="error" title={r.error}>
                        {r.error.slice(0, 80)}
                      </span>
                    ) : (
                      <span className="muted">{formatTime(r.finishedAt)}</span>
                    )}
                  </td>
                  <td>{r.attempts}</td>
                  {metricKeys.map((k) => (
                    <td key={k} className="num">
                      {formatMetric(k, r.metrics[k])}
                    </td>
                  ))}
                  <td className="ellipsis">{r.hardwareKey ?? "—"}</td>
                  <td>
                    <button type="button" className="secondary small" aria-expanded={open === r.id} onClick={() => setOpen(open === r.id ? null : r.id)}>
                      Logs
                    </button>{" "}
                    {!readOnly && <RunActions id={r.id} status={r.status} />}
                  </td>
                </tr>
                {open === r.id && (
                  <tr className="logs-row">
                    <td colSpan={7 + metricKeys.length}>
                      <RunLogs id={r.id} />
                    </td>
                  </tr>
                )}
              </Fragment>
            ))}
          </tbody>
        </table>
      </div>
      <h2>Pareto fronts of finished runs</h2>
      <ExperimentPareto id={id} runs={runs} live={active.length > 0} />
      <h2>Sweep: parameters to metrics</h2>
      <SweepView runs={runs} />
    </div>
  );
}
