"use client";

import Link from "next/link";
import { useMemo, useState } from "react";
import { exportHref, type RunRow } from "@/lib/api-client";
import { METHODS } from "@/lib/methods";
import { isAuxiliaryMetric, PICKABLE_METRICS } from "@/lib/metrics";
import { formatRunColumns, parseRunColumn, parseRunColumns, type RunColumn, runColumnSort } from "@/lib/run-columns";
import { BulkTagBar } from "./bulk-tag-bar";
import { FiltersBar } from "./filters-bar";
import { useRuns } from "./queries";
import { RunGroupsTable, useRunGroups } from "./run-groups-table";
import { SavedViewsMenu } from "./saved-views";
import { ShareButton } from "./share-button";
import { Empty, ErrorBox, formatParams, paramsSummary, formatTime, metricLabel, MetricValue, ProgressBar, StatusBadge } from "./ui";
import { filterParams, SeedsToggle, useSeedsParam, useViewParams } from "./view-params";

const DEFAULT_LIMIT = "50";
const MAX_METRIC_COLUMNS = 8;

/** The metric columns worth showing: those any run on the page has, in the registry's order. */
function metricColumns(runs: RunRow[]): string[] {
  const present = new Set<string>();
  for (const r of runs) for (const k of Object.keys(r.metrics ?? {})) present.add(k);
  const known = PICKABLE_METRICS.map((m) => m.key).filter((k) => present.has(k));
  const extra = [...present].filter((k) => !known.includes(k) && !isAuxiliaryMetric(k)).sort();
  return [...known, ...extra].slice(0, MAX_METRIC_COLUMNS);
}

const PARAM_NAMES = [...new Set(METHODS.flatMap((m) => Object.keys(m.params.shape)))].sort();

/** A parameter's value in a cell: numbers and strings bare, lists and objects as JSON. */
function paramText(v: unknown): string {
  if (v === undefined || v === null) return "—";
  return typeof v === "object" ? JSON.stringify(v) : String(v);
}

/**
 * The `cols` URL parameter picks the table's metric and parameter columns (`cols=metric.model_bytes,param.bits`);
 * without it the table shows the metrics the page's runs carry, in registry order.
 */
function ColumnPicker({ columns, auto, present }: { columns: RunColumn[]; auto: boolean; present: string[] }) {
  const { set } = useViewParams();
  const shown = new Set(columns.map((c) => c.id));
  const metricKeys = [...new Set([...PICKABLE_METRICS.map((m) => m.key), ...present])];
  const write = (next: RunColumn[]) => set({ cols: formatRunColumns(next) || "," });
  return (
    <div className="filters column-picker" data-testid="column-picker">
      <span className="muted small">Columns{auto ? " (automatic)" : ""}</span>
      <span className="metric-filters">
        {columns.map((c) => (
          <span key={c.id} className="chip" data-column={c.id}>
            {c.kind === "metric" ? metricLabel(c.key) : `param ${c.key}`}
            <button type="button" className="chip-x" aria-label={`remove column ${c.id}`} onClick={() => write(columns.filter((x) => x.id !== c.id))}>
              ×
            </button>
          </span>
        ))}
      </span>
      <select
        aria-label="add column"
        value=""
        onChange={(e) => {
          const c = parseRunColumn(e.target.value);
          if (c) write([...columns, c]);
        }}
      >
        <option value="">Add column…</option>
        <optgroup label="Metrics (sortable)">
          {metricKeys
            .filter((k) => !shown.has(`metric.${k}`))
            .map((k) => (
              <option key={k} value={`metric.${k}`}>
                {metricLabel(k)}
              </option>
            ))}
        </optgroup>
        <optgroup label="Parameters">
          {PARAM_NAMES.filter((k) => !shown.has(`param.${k}`)).map((k) => (
            <option key={k} value={`param.${k}`}>
              param {k}
            </option>
          ))}
        </optgroup>
      </select>
      {!auto && (
        <button type="button" className="secondary small" onClick={() => set({ cols: null })}>
          Automatic columns
        </button>
      )}
    </div>
  );
}

function SortHeader({ sortKey, children }: { sortKey: string; children: React.ReactNode }) {
  const { params, set } = useViewParams();
  const sort = params.get("sort") ?? "-id";
  const active = sort === sortKey || sort === `-${sortKey}`;
  const desc = sort.startsWith("-");
  const next = active && desc ? sortKey : `-${sortKey}`;
  return (
    <th aria-sort={active ? (desc ? "descending" : "ascending") : "none"}>
      <button type="button" className="th-sort" onClick={() => set({ sort: next })} title={`sort by ${sortKey}`}>
        {children}
        {active ? (desc ? " ▼" : " ▲") : ""}
      </button>
    </th>
  );
}

export function RunsView() {
  const { params, set, readOnly } = useViewParams();
  const filters = filterParams(params);
  // Keyed by the query string, a value: `params` is a new object on every render.
  const query = params.toString();
  const apiParams = useMemo(() => {
    const sp = new URLSearchParams(query);
    const p: Record<string, string | string[]> = { ...filterParams(sp), limit: sp.get("limit") ?? DEFAULT_LIMIT };
    const sort = sp.get("sort");
    if (sort) p.sort = sort;
    const cursor = sp.get("cursor");
    if (cursor) p.cursor = cursor;
    return p;
  }, [query]);
  // "mean over seeds" (agg=seeds, as on the explorer): one row per set of runs differing only by seed.
  const seeds = useSeedsParam();
  const runs = useRuns(apiParams, !seeds);
  const groups = useRunGroups(apiParams, seeds);
  const [selected, setSelected] = useState<number[]>([]);
  const rows = seeds ? [] : (runs.data?.runs ?? []);
  const groupRows = seeds ? (groups.data?.groups ?? []) : [];
  const chosen = parseRunColumns(params.get("cols"));
  const metricsShown = seeds
    ? groupRows.map((g) => Object.fromEntries(Object.entries(g.metrics).map(([k, m]) => [k, m.mean])))
    : rows.map((r) => r.metrics ?? {});
  const autoCols = metricColumns(metricsShown.map((metrics) => ({ metrics }) as RunRow));
  const cols: RunColumn[] = chosen ?? autoCols.map((k) => ({ kind: "metric", key: k, id: `metric.${k}` }));
  const present = [...new Set(metricsShown.flatMap((m) => Object.keys(m)))].filter((k) => !isAuxiliaryMetric(k)).sort();
  const toggle = (id: number) => setSelected((s) => (s.includes(id) ? s.filter((x) => x !== id) : [...s, id]));
  const pageIds = rows.map((r) => r.id);
  const allOnPage = pageIds.length > 0 && pageIds.every((id) => selected.includes(id));
  const toggleAll = () => setSelected((s) => (allOnPage ? s.filter((id) => !pageIds.includes(id)) : [...new Set([...s, ...pageIds])]));
  const exportParams = filters;
  const current = seeds ? groups : runs;

  return (
    <div>
      <div className="toolbar">
        <h1>Runs</h1>
        <span className="muted" data-testid="runs-total">
          {seeds
            ? groups.data
              ? `${groups.data.total.toLocaleString("en-US")} seed sets of ${groups.data.runs.toLocaleString("en-US")} runs match`
              : ""
            : runs.data
              ? `${runs.data.total.toLocaleString("en-US")} runs match`
              : ""}
        </span>
        <span className="spacer" />
        {!seeds && selected.length === 0 && <span className="muted">select runs to compare or tag</span>}
        <a className="button secondary" href={exportHref("csv", exportParams)} download>
          Export CSV
        </a>
        <a className="button secondary" href={exportHref("json", exportParams)} download>
          Export JSON
        </a>
        <ShareButton />
        <SavedViewsMenu />
      </div>
      <FiltersBar />
      <div className="filters">
        <SeedsToggle becomes="one row: n runs, each metric as mean ± 1 sd" />
      </div>
      <ColumnPicker columns={cols} auto={chosen === null} present={present} />
      {!seeds && !readOnly && <BulkTagBar selected={selected} onClear={() => setSelected([])} />}
      <ErrorBox error={current.error} />
      {current.data && (seeds ? groupRows.length === 0 : rows.length === 0) ? (
        <Empty>
          No runs match these filters.{" "}
          {readOnly ? (
            ""
          ) : (
            <>
              Clear a filter, <Link href="/experiments/new">submit an experiment</Link>, or log runs through POST /api/v1/runs.
            </>
          )}
        </Empty>
      ) : seeds ? (
        <RunGroupsTable groups={groupRows} cols={cols} Sort={SortHeader} />
      ) : (
        <div className="table-wrap">
          <table className="runs-table" data-testid="runs-table">
            <thead>
              <tr>
                <th>
                  <input type="checkbox" aria-label="select all runs on this page" checked={allOnPage} onChange={toggleAll} />
                </th>
                <SortHeader sortKey="id">ID</SortHeader>
                <SortHeader sortKey="status">Status</SortHeader>
                <SortHeader sortKey="methodId">Method</SortHeader>
                <SortHeader sortKey="family">Family</SortHeader>
                <SortHeader sortKey="modelId">Model</SortHeader>
                <SortHeader sortKey="datasetId">Dataset</SortHeader>
                <SortHeader sortKey="runtime">Runtime</SortHeader>
                <SortHeader sortKey="hardwareKey">Hardware</SortHeader>
                <th>Tags</th>
                {cols.map((c) => {
                  const sortKey = runColumnSort(c);
                  return sortKey ? (
                    <SortHeader key={c.id} sortKey={sortKey}>
                      {metricLabel(c.key)}
                    </SortHeader>
                  ) : (
                    <th key={c.id} title="The API does not sort by parameters">
                      param {c.key}
                    </th>
                  );
                })}
                <SortHeader sortKey="createdAt">Created</SortHeader>
              </tr>
            </thead>
            <tbody>
              {rows.map((r) => (
                <tr key={r.id} data-run-id={r.id} className={selected.includes(r.id) ? "selected" : undefined}>
                  <td>
                    <input type="checkbox" aria-label={`select run ${r.id}`} checked={selected.includes(r.id)} onChange={() => toggle(r.id)} />
                  </td>
                  <td>
                    <Link href={`/runs/${r.id}`} prefetch={false}>
                      #{r.id}
                    </Link>
                  </td>
                  <td>
                    <StatusBadge status={r.status} />
                    {(r.status === "running" || r.status === "leased") && <ProgressBar value={r.progress} label={r.stage ?? undefined} />}
                  </td>
                  <td title={formatParams(r.params)}>
                    {r.methodId}
                    {paramsSummary(r.methodId, r.params) && <span className="muted small"> {paramsSummary(r.methodId, r.params)}</span>}
                  </td>
                  <td>{r.family}</td>
                  <td>{r.modelId}</td>
                  <td>{r.datasetId}</td>
                  <td>{r.runtime}</td>
                  <td className="ellipsis" title={r.hardwareKey ?? ""}>
                    {r.hardwareKey ?? "—"}
                  </td>
                  <td className="small" data-testid="run-tags">
                    {r.tags.join(", ") || "—"}
                  </td>
                  {cols.map((c) =>
                    c.kind === "metric" ? (
                      <td key={c.id} className="num">
                        <MetricValue k={c.key} v={r.metrics?.[c.key]} />
                      </td>
                    ) : (
                      <td key={c.id}>{paramText(r.params?.[c.key])}</td>
                    ),
                  )}
                  <td className="muted">{formatTime(r.createdAt)}</td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      )}
      <div className="pager">
        {params.get("cursor") && (
          <button type="button" className="secondary" onClick={() => set({ cursor: null })}>
            ⇤ First page
          </button>
        )}
        {current.data?.nextCursor && (
          <button type="button" className="secondary" onClick={() => set({ cursor: current.data!.nextCursor })}>
            Next page →
          </button>
        )}
        <label className="field-inline">
          <span>Per page</span>
          <select aria-label="per page" value={params.get("limit") ?? DEFAULT_LIMIT} onChange={(e) => set({ limit: e.target.value })}>
            {["2", "10", "25", "50", "100", "200"].map((n) => (
              <option key={n}>{n}</option>
            ))}
          </select>
        </label>
        {current.isFetching && <span className="muted">updating…</span>}
      </div>
    </div>
  );
}
