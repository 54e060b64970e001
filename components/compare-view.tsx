"use client";

import { useQueries } from "@tanstack/react-query";
import Link from "next/link";
import { api, type RunDetail } from "@/lib/api-client";
import { formatMetric, METRICS } from "@/lib/metrics";
import { qk } from "@/lib/query-keys";
import { SeriesOverlay } from "./series-overlay";
import { ShareButton } from "./share-button";
import { Delta, Empty, ErrorBox, metricLabel, StatusBadge } from "./ui";
import { useViewParams } from "./view-params";

export function parseIds(raw: string | null): { ids: number[]; error: string | null } {
  const parts = (raw ?? "")
    .split(",")
    .map((s) => s.trim())
    .filter(Boolean);
  const ids = [...new Set(parts.map(Number))];
  if (parts.some((p) => !/^[1-9][0-9]*$/.test(p))) return { ids: [], error: `ids must be run numbers separated by commas (got "${raw}")` };
  if (ids.length < 2 || ids.length > 10) return { ids, error: `compare takes 2 to 10 runs (got ${ids.length})` };
  return { ids, error: null };
}

const show = (v: unknown) => (v === undefined ? "—" : typeof v === "object" ? JSON.stringify(v) : String(v));

export function CompareView() {
  const { params } = useViewParams();
  const { ids, error } = parseIds(params.get("ids"));
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
  const val = (r: RunDetail, k: string) => r.metrics.find((m) => m.key === k)?.value;
  const differs = (vals: unknown[]) => new Set(vals.map(show)).size > 1;
  const info: [string, (r: RunDetail) => unknown][] = [
    ["status", (r) => r.status],
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
      </div>
      <ErrorBox error={failed} />
      <div className="table-wrap">
        <table className="compare" data-testid="compare-table">
          <thead>
            <tr>
              <th />
              {loaded.map((r) => (
                <th key={r.id}>
                  <Link href={`/runs/${r.id}`} prefetch={false}>
                    #{r.id}
                  </Link>
                </th>
              ))}
            </tr>
          </thead>
          <tbody>
            {info.map(([label, get]) => (
              <tr key={label} className={differs(loaded.map(get)) ? "differs" : undefined}>
                <th>{label}</th>
                {loaded.map((r) => (
                  <td key={r.id}>
                    {label === "status" ? (
                      <StatusBadge status={r.status} />
                    ) : label === "baseline" && r.baselineRunId ? (
                      <Link href={`/runs/${r.baselineRunId}`} prefetch={false}>
                        #{r.baselineRunId}
                      </Link>
                    ) : (
                      show(get(r) ?? undefined)
                    )}
                  </td>
                ))}
              </tr>
            ))}
            <tr className="section">
              <th colSpan={loaded.length + 1}>Parameters</th>
            </tr>
            {paramKeys.map((k) => (
              <tr key={k} className={differs(loaded.map((r) => r.params[k])) ? "differs" : undefined} data-param={k}>
                <th>{k}</th>
                {loaded.map((r) => (
                  <td key={r.id}>{show(r.params[k])}</td>
                ))}
              </tr>
            ))}
            <tr className="section">
              <th colSpan={loaded.length + 1}>Metrics (Δ vs each run&apos;s baseline)</th>
            </tr>
            {metricKeys.map((k) => (
              <tr key={k} className={differs(loaded.map((r) => val(r, k))) ? "differs" : undefined} data-metric={k}>
                <th>{metricLabel(k)}</th>
                {loaded.map((r) => (
                  <td key={r.id} className="num">
                    {formatMetric(k, val(r, k))} <Delta k={k} v={val(r, k)} base={r.baselineRunId ? baseMetrics.get(r.baselineRunId)?.get(k) : undefined} />
                  </td>
                ))}
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
