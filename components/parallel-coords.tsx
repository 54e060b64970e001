"use client";

import Link from "next/link";
import { useMemo, useState } from "react";
import { formatMetric, getMetric, metricDirection } from "@/lib/metrics";
import type { ExperimentRun } from "@/lib/schemas/experiments";
import { metricLabel } from "./ui";

interface Axis {
  key: string;
  label: string;
  kind: "param" | "metric";
  /** Categorical axes (text or boolean parameters) place their values evenly, in first-seen order. */
  categories: string[] | null;
  min: number;
  max: number;
  value(r: ExperimentRun): number | string | null;
}

const WIDTH = 900;
const HEIGHT = 300;
const PAD = { top: 58, bottom: 26, left: 70, right: 90 };

const paramValue = (r: ExperimentRun, k: string): number | string | null => {
  const v = r.params[k];
  if (v === undefined || v === null) return null;
  return typeof v === "number" ? v : String(v);
};

/** The swept parameters (more than one value among the runs) then the charted metrics any run has. */
function axesOf(runs: ExperimentRun[], metricKeys: string[]): Axis[] {
  const axes: Axis[] = [];
  const paramKeys = [...new Set(runs.flatMap((r) => Object.keys(r.params)))].sort();
  for (const k of paramKeys) {
    const vals = runs.map((r) => paramValue(r, k)).filter((v): v is number | string => v !== null);
    if (new Set(vals.map(String)).size < 2) continue;
    const numeric = vals.every((v) => typeof v === "number");
    const nums = numeric ? (vals as number[]) : [];
    axes.push({
      key: `param.${k}`,
      label: k,
      kind: "param",
      categories: numeric ? null : [...new Set(vals.map(String))],
      min: numeric ? Math.min(...nums) : 0,
      max: numeric ? Math.max(...nums) : 0,
      value: (r) => paramValue(r, k),
    });
  }
  for (const k of metricKeys) {
    const vals = runs.map((r) => r.metrics[k]).filter((v): v is number => v !== undefined && Number.isFinite(v));
    if (vals.length === 0) continue;
    axes.push({
      key: k,
      label: metricLabel(k),
      kind: "metric",
      categories: null,
      min: Math.min(...vals),
      max: Math.max(...vals),
      value: (r) => r.metrics[k] ?? null,
    });
  }
  return axes;
}

/** 0 (bottom) .. 1 (top) on an axis; metrics put their better end at the top. */
function position(a: Axis, v: number | string): number {
  if (a.categories) {
    const i = a.categories.indexOf(String(v));
    return a.categories.length === 1 ? 0.5 : i / (a.categories.length - 1);
  }
  const t = a.max === a.min ? 0.5 : ((v as number) - a.min) / (a.max - a.min);
  return a.kind === "metric" && metricDirection(a.key) === "lower" ? 1 - t : t;
}

/** Light (worse) to dark (better) blue along the colour metric, so the best configurations stand out. */
function shade(t: number): string {
  const l = Math.round(78 - 50 * t);
  return `hsl(215 70% ${l}%)`;
}

/**
 * A sweep as parallel coordinates: one line per finished run through its swept parameters and then
 * its metrics (better end up), coloured by the first metric. Hovering a line names the run.
 */
export function ParallelCoords({ runs, metricKeys }: { runs: ExperimentRun[]; metricKeys: string[] }) {
  const [hover, setHover] = useState<number | null>(null);
  const axes = useMemo(() => axesOf(runs, metricKeys), [runs, metricKeys]);
  const colourAxis = axes.find((a) => a.kind === "metric") ?? null;
  if (runs.length < 2 || axes.length < 2 || !axes.some((a) => a.kind === "param")) {
    return <p className="muted small">The parallel-coordinates view appears once two or more runs that differ in a swept parameter have finished.</p>;
  }
  const x = (i: number) => PAD.left + (i * (WIDTH - PAD.left - PAD.right)) / (axes.length - 1);
  const y = (t: number) => PAD.top + (1 - t) * (HEIGHT - PAD.top - PAD.bottom);
  const lines = runs.map((r) => {
    const pts = axes.map((a, i) => {
      const v = a.value(r);
      return v === null ? null : `${x(i).toFixed(1)},${y(position(a, v)).toFixed(1)}`;
    });
    const cv = colourAxis ? colourAxis.value(r) : null;
    return { run: r, d: pts.every(Boolean) ? `M${pts.join("L")}` : null, t: colourAxis && cv !== null ? position(colourAxis, cv) : 0.5 };
  });
  const hovered = lines.find((l) => l.run.id === hover)?.run;
  const label = (a: Axis, v: number | string) => (a.kind === "metric" ? formatMetric(a.key, v as number) : String(v));
  // values on the right of their axis (the right padding holds the last axis's)
  const valueAt = (i: number) => ({ x: x(i) + 4 });
  return (
    <div className="parallel-coords">
      <svg
        viewBox={`0 0 ${WIDTH} ${HEIGHT}`}
        width="100%"
        role="img"
        aria-label={`Parallel coordinates of ${runs.length} runs: ${axes.map((a) => a.label).join(", ")}`}
        data-testid="parallel-coords"
        data-lines={lines.filter((l) => l.d).length}
      >
        {lines.map((l) =>
          l.d ? (
            // biome-ignore lint/a11y/noStaticElementInteractions: hover only highlights a line; every run's values are in the tables above and its link appears below the chart
            <path
              key={l.run.id}
              d={l.d}
              fill="none"
              stroke={hover === l.run.id ? "#d9480f" : shade(l.t)}
              strokeWidth={hover === l.run.id ? 3 : 1.5}
              opacity={hover === null || hover === l.run.id ? 0.9 : 0.25}
              onMouseEnter={() => setHover(l.run.id)}
              onMouseLeave={() => setHover(null)}
            >
              <title>Run #{l.run.id}</title>
            </path>
          ) : null,
        )}
        {axes.map((a, i) => (
          <g key={a.key} pointerEvents="none">
            <line x1={x(i)} x2={x(i)} y1={y(0)} y2={y(1)} stroke="#495057" />
            <text x={x(i)} y={PAD.top - 18} textAnchor="middle" fontSize={12} fontWeight={600} fill="#212529">
              {axisTitleLines(a.label, axes.length).map((line, k, all) => (
                <tspan key={line} x={x(i)} dy={k === 0 ? -(all.length - 1) * 13 : 13}>
                  {line}
                </tspan>
              ))}
            </text>
            {a.categories ? (
              a.categories.map((c) => (
                <text key={c} {...valueAt(i)} y={y(position(a, c)) + 4} fontSize={11} fill="#343a40">
                  {c}
                </text>
              ))
            ) : (
              <>
                <text {...valueAt(i)} y={y(1) + 4} fontSize={11} fill="#343a40">
                  {label(a, a.kind === "metric" && metricDirection(a.key) === "lower" ? a.min : a.max)}
                </text>
                <text {...valueAt(i)} y={y(0) + 4} fontSize={11} fill="#343a40">
                  {label(a, a.kind === "metric" && metricDirection(a.key) === "lower" ? a.max : a.min)}
                </text>
              </>
            )}
          </g>
        ))}
      </svg>
      <p className="muted small">
        One line per finished run; metric axes have their better end at the top
        {colourAxis ? `; darker lines are better on ${colourAxis.label}` : ""}.{" "}
        {hovered ? (
          <Link href={`/runs/${hovered.id}`} prefetch={false}>
            Run #{hovered.id}:{" "}
            {axes
              .map((a) => {
                const v = a.value(hovered);
                return `${a.label} ${v === null ? "—" : label(a, v)}`;
              })
              .join(", ")}
          </Link>
        ) : (
          "Hover a line to see its run."
        )}
      </p>
    </div>
  );
}

/** The metrics the parallel-coordinates view shows for a sweep: quality, speed, size and the method's own. */
export function sweepMetricKeys(runs: ExperimentRun[]): string[] {
  const present = new Set(runs.flatMap((r) => Object.keys(r.metrics)));
  const wanted = [
    "perplexity",
    "exact_match",
    "accuracy",
    "decode_ms_per_token",
    "speedup",
    "model_bytes",
    "bits_effective",
    "sparsity",
    "acceptance_rate",
    "tokens_per_s",
  ];
  return wanted.filter((k) => present.has(k) && getMetric(k));
}

/**
 * An axis title in lines that fit between neighbouring axes: the name wrapped by words, the unit
 * ("(bits)", "(ms)") on its own line, at most three lines.
 */
export function axisTitleLines(label: string, axisCount: number): string[] {
  const m = /^(.*?)\s*(\([^()]*\))$/.exec(label);
  const name = m ? m[1] : label;
  const unit = m ? m[2] : null;
  // about 8 SVG units per bold character at font size 12, and the axes' spacing in those units
  // (titles are centred on their axis; the side padding holds half a title)
  const spacing = Math.min((WIDTH - PAD.left - PAD.right) / Math.max(1, axisCount - 1), 2 * PAD.left);
  const max = Math.max(8, Math.floor(spacing / 8) - 1);
  const lines: string[] = [];
  for (const word of name.split(/\s+/)) {
    const last = lines[lines.length - 1];
    if (last !== undefined && (last + " " + word).length <= max) lines[lines.length - 1] = `${last} ${word}`;
    else lines.push(word);
  }
  const kept =
    lines.length > 2
      ? [
          lines[0],
          `${lines
            .slice(1)
            .join(" ")
            .slice(0, max - 1)}…`,
        ]
      : lines;
  return unit ? [...kept, unit] : kept;
}
