"use client";

import { keepPreviousData, useQuery } from "@tanstack/react-query";
import Link from "next/link";
import { api, type RunGroup, type SeedMetric } from "@/lib/api-client";
import { formatMetric } from "@/lib/metrics";
import { type QueryParams, qk } from "@/lib/query-keys";
import { type RunColumn, runColumnSort } from "@/lib/run-columns";
import { formatParams, formatTime, metricLabel, paramsSummary } from "./ui";

/** Seed sets under the runs table's filter, sort and page keys (GET /runs?aggregate=seeds). */
export const useRunGroups = (params: QueryParams, enabled: boolean) =>
  useQuery({ queryKey: qk.runs.groups(params), queryFn: () => api.runGroups(params), enabled, placeholderData: keepPreviousData });

/** A metric over a seed set: the mean, ± the sample sd when more than one run has it. */
export function SeedMetricValue({ k, m }: { k: string; m: SeedMetric | undefined }) {
  if (!m) return <span className="num">—</span>;
  return (
    <span className="num" title={`mean of ${m.n} run${m.n === 1 ? "" : "s"}${m.n > 1 ? "; ± 1 sample standard deviation" : ""}`}>
      {formatMetric(k, m.mean)}
      {m.n > 1 && <span className="muted"> ± {formatMetric(k, m.sd)}</span>}
    </span>
  );
}

/** Where a set's member runs are: compare for 2 to 10, the run itself for one, else each run's link. */
function Members({ g }: { g: RunGroup }) {
  if (g.n === 1)
    return (
      <Link href={`/runs/${g.id}`} prefetch={false}>
        #{g.id}
      </Link>
    );
  return (
    <details className="group-members">
      <summary>
        {g.n} runs
        <span className="muted small"> seeds {g.seeds.map((s) => s ?? "—").join(", ")}</span>
      </summary>
      {g.n <= 10 && (
        <Link className="small" href={`/compare?ids=${g.runIds.join(",")}&agg=seeds`} prefetch={false}>
          compare these {g.n}
        </Link>
      )}
      <span className="group-member-links small">
        {g.runIds.slice(0, 200).map((id) => (
          <Link key={id} href={`/runs/${id}`} prefetch={false}>
            #{id}
          </Link>
        ))}
        {g.n > 200 && <span className="muted"> and {g.n - 200} more</span>}
      </span>
    </details>
  );
}

const statusText = (c: RunGroup["statusCounts"]) =>
  Object.entries(c)
    .map(([s, n]) => `${n} ${s}`)
    .join(", ");

/** The runs table with one row per seed set: n, setup, metrics as mean ± sd (sortable by the mean), member links. */
export function RunGroupsTable({
  groups,
  cols,
  Sort,
}: {
  groups: RunGroup[];
  cols: RunColumn[];
  /** The table's sortable header cell (the runs table's, so both tables sort through the same URL key). */
  Sort: React.ComponentType<{ sortKey: string; children: React.ReactNode }>;
}) {
  return (
    <div className="table-wrap">
      <table className="runs-table" data-testid="runs-groups-table">
        <thead>
          <tr>
            <th>Runs</th>
            <th>Status</th>
            <Sort sortKey="methodId">Method</Sort>
            <Sort sortKey="family">Family</Sort>
            <Sort sortKey="modelId">Model</Sort>
            <Sort sortKey="datasetId">Dataset</Sort>
            <Sort sortKey="runtime">Runtime</Sort>
            <Sort sortKey="hardwareKey">Hardware</Sort>
            <th>Tags</th>
            {cols.map((c) => {
              const sortKey = runColumnSort(c);
              return sortKey ? (
                <Sort key={c.id} sortKey={sortKey}>
                  {metricLabel(c.key)} mean
                </Sort>
              ) : (
                <th key={c.id} title="The API does not sort by parameters">
                  param {c.key}
                </th>
              );
            })}
            <th>Latest</th>
          </tr>
        </thead>
        <tbody>
          {groups.map((g) => (
            <tr key={g.id} data-group-id={g.id} data-n={g.n}>
              <td>
                <Members g={g} />
              </td>
              <td className="small">{statusText(g.statusCounts)}</td>
              <td title={formatParams(g.params)}>
                {g.methodId}
                {paramsSummary(g.methodId, g.params) && <span className="muted small"> {paramsSummary(g.methodId, g.params)}</span>}
              </td>
              <td>{g.family}</td>
              <td>{g.modelId}</td>
              <td>{g.datasetId}</td>
              <td>{g.runtime}</td>
              <td className="ellipsis" title={g.hardwareKey ?? ""}>
                {g.hardwareKey ?? "—"}
              </td>
              <td className="small">{g.tags.join(", ") || "—"}</td>
              {cols.map((c) =>
                c.kind === "metric" ? (
                  <td key={c.id} className="num">
                    <SeedMetricValue k={c.key} m={g.metrics[c.key]} />
                  </td>
                ) : (
                  <td key={c.id}>
                    {g.params[c.key] === undefined ? "—" : typeof g.params[c.key] === "object" ? JSON.stringify(g.params[c.key]) : String(g.params[c.key])}
                  </td>
                ),
              )}
              <td className="muted">{formatTime(g.createdAt)}</td>
            </tr>
          ))}
        </tbody>
      </table>
    </div>
  );
}
