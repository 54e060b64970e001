"use client";

import { useQueries } from "@tanstack/react-query";
import { useMemo, useState } from "react";
import { CartesianGrid, Legend, Line, LineChart, ResponsiveContainer, Tooltip, XAxis, YAxis } from "recharts";
import { api, type RunDetail } from "@/lib/api-client";
import { formatMetric } from "@/lib/metrics";
import { qk } from "@/lib/query-keys";
import { groupColor } from "./pareto-chart";
import { ErrorBox, metricLabel } from "./ui";

/**
 * Exponential moving average with the start-up bias removed (as TensorBoard smooths): weight 0 is the
 * raw series; the first points are not pulled toward zero.
 */
export function smoothSeries(values: readonly number[], weight: number): number[] {
  if (weight <= 0) return values.slice();
  const out: number[] = [];
  let last = 0;
  let debias = 0;
  for (const v of values) {
    last = last * weight + (1 - weight) * v;
    debias = debias * weight + (1 - weight);
    out.push(last / debias);
  }
  return out;
}

/** The time series of several runs on one chart, one line per run, with optional smoothing. */
export function SeriesOverlay({ runs }: { runs: RunDetail[] }) {
  const keys = useMemo(() => [...new Set(runs.flatMap((r) => r.seriesKeys))].sort(), [runs]);
  const [chosen, setKey] = useState<string | null>(null);
  const [smoothing, setSmoothing] = useState(0.6);
  const key = chosen !== null && keys.includes(chosen) ? chosen : (keys[0] ?? null);
  const withKey = runs.filter((r) => key !== null && r.seriesKeys.includes(key));
  const series = useQueries({
    queries: withKey.map((r) => ({ queryKey: qk.runs.series(r.id, key ?? ""), queryFn: () => api.runSeries(r.id, key!), enabled: key !== null })),
  });
  if (keys.length === 0) return null;
  const names = withKey.map((r) => `#${r.id}`);
  const lines = withKey.map((r, i) => {
    const pts = series[i]?.data?.series.find((s) => s.key === key)?.points ?? [];
    const smooth = smoothSeries(
      pts.map((p) => p.value),
      smoothing,
    );
    return { run: r, name: names[i], data: pts.map((p, j) => ({ step: p.step, value: smooth[j], raw: p.value })) };
  });
  return (
    <div className="card" data-testid="series-overlay" data-lines={lines.filter((l) => l.data.length > 0).length}>
      <div className="chart-head">
        <h2>Time series</h2>
        <span className="spacer" />
        <select aria-label="overlay series" value={key ?? ""} onChange={(e) => setKey(e.target.value)}>
          {keys.map((k) => (
            <option key={k} value={k}>
              {metricLabel(k)}
            </option>
          ))}
        </select>
        <label className="field-inline">
          <span>smoothing {smoothing.toFixed(2)}</span>
          <input aria-label="smoothing" type="range" min={0} max={0.99} step={0.01} value={smoothing} onChange={(e) => setSmoothing(Number(e.target.value))} />
        </label>
      </div>
      <ResponsiveContainer width="100%" height={300}>
        <LineChart margin={{ top: 10, right: 20, bottom: 20, left: 20 }}>
          <CartesianGrid strokeDasharray="3 3" stroke="#e9ecef" />
          <XAxis dataKey="step" type="number" domain={["auto", "auto"]} allowDuplicatedCategory={false} label={{ value: "step", position: "bottom" }} />
          <YAxis domain={["auto", "auto"]} width={70} tickFormatter={(v: number) => formatMetric(key ?? "", v)} />
          <Tooltip formatter={(v) => formatMetric(key ?? "", Number(v))} labelFormatter={(s) => `step ${s}`} isAnimationActive={false} />
          <Legend />
          {lines.map((l) => (
            <Line
              key={l.run.id}
              data={l.data}
              dataKey="value"
              name={`${l.name} ${l.run.methodId}`}
              type="monotone"
              stroke={groupColor(names, l.name)}
              dot={false}
              isAnimationActive={false}
            />
          ))}
        </LineChart>
      </ResponsiveContainer>
      <p className="muted small">
        Smoothing is an exponential moving average with its start-up bias removed (0: the raw series); the tooltip shows smoothed values.
      </p>
      <ErrorBox error={series.find((s) => s.error)?.error ?? null} />
    </div>
  );
}
