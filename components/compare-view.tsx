"use client";

import { useQueries } from "@tanstack/react-query";
import Link from "next/link";
import { api, type RunDetail } from "@/lib/api-client";
import { formatMetric, METRICS } from "@/lib/metrics";
import { qk } from "@/lib/query-keys";
import { meanSd, seedSetKey } from "@/lib/seed-sets";
import { parseCompareIds } from "@/lib/share-scope";
import { SeriesOverlay } from "./series-overlay";
import { SavedViewsMenu } from "./saved-views";
import { ShareButton } from "./share-button";
import { Delta, Empty, ErrorBox, metricLabel, StatusBadge } from "./ui";
import { SeedsToggle, useSeedsParam, useViewParams } from "./view-params";

const show = (v: unknown) => (v === undefined ? "—" : typeof v === "object" ? JSON.stringify(v) : String(v));

/**
 * The compared runs as columns: one per run, or with `collapse` one per seed set (runs differing
 * only by seed, lib/seed-sets.ts), in the order their first run was asked for.
 */
function columnsOf(runs: RunDetail[], collapse: boolean): RunDetail[][] {
  if (!collapse) return runs.map((r) => [r]);
  const sets = new Map<string, RunDetail[]>();
  for (const r of runs) {
    const k = seedSetKey(r);
    const set = sets.get(k);
    if (set) set.push(r);
    else sets.set(k, [r]);
  }
  return [...sets.values()];
}

/** A metric over a column's runs: the value, or for several the mean ± sd over those that have it. */
function columnMetric(col: RunDetail[], k: string): { value: number; sd: number; n: number } | undefined {
  const vals = col.flatMap((r) => r.metrics.filter((m) => m.key === k).map((m) => m.value));
  if (vals.length === 0) return undefined;
  const { mean, sd } = meanSd(vals);
  return { value: mean, sd, n: vals.length };
}

export function CompareView() {
  const { params } = useViewParams();
  const collapse = useSeedsParam();
  const { ids, error } = parseCompareIds(params.get("ids"));
  const runs = useQueries({ queries: ids.map((id) => ({ queryKey: qk.runs.detail(id), queryFn: () => api.run(id), enabled: !error })) });
  const baseIds = [...new Set(runs.map((q) => q.data?.baselineRunId).filter((x): x is number => !!x))];
  const bases = useQueries({ queries: baseIds.map((id) => ({ queryKey: qk.runs.detail(id), queryFn: () => api.run(id) })) });
  if (error)
    return (
      <Empty>
        {error}. Select runs in the <Link href="/runs">runs table</Link> and press Compare.
      </Empty>
    );
  const loaded = runs.map((q) => q.data).filter((r): r is RunDetail => !!r);
  const failed = runs.find((q) => q.error)?.error;
  const baseMetrics = new Map(
    bases
      .map((q) => q.data)
      .filter((r): r is RunDetail => !!r)
      .map((r) => [r.id, new Map(r.metrics.map((m) => [m.key, m.value]))]),
  );
  const paramKeys = [...new Set(loaded.flatMap((r) => Object.keys(r.params)))].sort();
  const present = new Set(loaded.flatMap((r) => r.metrics.map((m) => m.key)));
  const metricKeys = [...METRICS.map((m) => m.key).filter((k) => present.has(k)), ...[...present].filter((k) => !METRICS.some((m) => m.key === k)).sort()];
  const replicates = loaded.length - columnsOf(loaded, true).length;
  const cols = columnsOf(loaded, collapse);
  const differs = (vals: unknown[]) => new Set(vals.map(show)).size > 1;
  const info: [string, (r: RunDetail) => unknown][] = [
    ["status", (r) => r.status],
    ["seed", (r) => r.seed],
    ["method", (r) => r.methodId],
    ["family", (r) => r.family],
    ["model", (r) => r.modelId],
    ["dataset", (r) => r.datasetId],
    ["runtime", (r) => r.runtime],
    ["hardware", (r) => r.hardwareKey],
    ["baseline", (r) => r.baselineRunId],
  ];
  return (
    <div>
      <div className="toolbar">
        <h1>Compare {ids.length} runs</h1>
        <span className="spacer" />
        <ShareButton />
        <SavedViewsMenu />
      </div>
      <div className="filters">
        <SeedsToggle becomes="one column: each metric as mean ± 1 sd, with n" />
        <span className="muted small" data-testid="seed-replicates">
          {replicates > 0
            ? `${loaded.length - replicates} seed set${loaded.length - replicates === 1 ? "" : "s"} among these ${loaded.length} runs`
            : "no two of these runs differ only by seed"}
        </span>
      </div>
      <ErrorBox error={failed} />
      <div className="table-wrap">
        <table className="compare" data-testid="compare-table">
          <thead>
            <tr>
              <th />
              {cols.map((c) => (
                <th key={c[0].id} data-runs={c.map((r) => r.id).join(",")}>
                  {c.map((r, i) => (
                    <span key={r.id}>
                      {i > 0 && " "}
                      <Link href={`/runs/${r.id}`} prefetch={false}>
                        #{r.id}
                      </Link>
                    </span>
                  ))}
                  {c.length > 1 && <div className="muted small">mean of {c.length}</div>}
                </th>
              ))}
            </tr>
          </thead>
          <tbody>
            {info.map(([label, get]) => {
              // A collapsed column shows what its runs share; where they differ (seed, status), each run's value.
              const cell = (c: RunDetail[]) => [...new Set(c.map((r) => show(get(r) ?? undefined)))].join(", ");
              return (
                <tr key={label} className={differs(cols.map(cell)) ? "differs" : undefined}>
                  <th>{label}</th>
                  {cols.map((c) => (
                    <td key={c[0].id}>
                      {label === "status" && c.length === 1 ? (
                        <StatusBadge status={c[0].status} />
                      ) : label === "baseline" && c.length === 1 && c[0].baselineRunId ? (
                        <Link href={`/runs/${c[0].baselineRunId}`} prefetch={false}>
                          #{c[0].baselineRunId}
                        </Link>
                      ) : (
                        cell(c)
                      )}
                    </td>
                  ))}
                </tr>
              );
            })}
            <tr className="section">
              <th colSpan={cols.length + 1}>Parameters</th>
            </tr>
            {paramKeys.map((k) => (
              <tr key={k} className={differs(cols.map((c) => c[0].params[k])) ? "differs" : undefined} data-param={k}>
                <th>{k}</th>
                {cols.map((c) => (
                  <td key={c[0].id}>{show(c[0].params[k])}</td>
                ))}
              </tr>
            ))}
            <tr className="section">
              <th colSpan={cols.length + 1}>Metrics (Δ vs each run&apos;s baseline{collapse ? "; mean ± 1 sd over seeds" : ""})</th>
            </tr>
            {metricKeys.map((k) => (
              <tr key={k} className={differs(cols.map((c) => columnMetric(c, k)?.value)) ? "differs" : undefined} data-metric={k}>
                <th>{metricLabel(k)}</th>
                {cols.map((c) => {
                  const m = columnMetric(c, k);
                  const base = c[0].baselineRunId ? baseMetrics.get(c[0].baselineRunId)?.get(k) : undefined;
                  return (
                    <td key={c[0].id} className="num">
                      {formatMetric(k, m?.value)}
                      {m && c.length > 1 && (
                        <span className="muted" title={`mean of ${m.n} run${m.n === 1 ? "" : "s"}; ± 1 sample standard deviation`}>
                          {" "}
                          ± {formatMetric(k, m.sd)} (n={m.n})
                        </span>
                      )}{" "}
                      <Delta k={k} v={m?.value} base={base} />
                    </td>
                  );
                })}
              </tr>
            ))}
          </tbody>
        </table>
      </div>
      <p className="muted small">Highlighted rows differ between the runs.</p>
      <SeriesOverlay runs={loaded} />
    </div>
  );
}
