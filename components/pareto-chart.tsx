"use client";

import { useRouter } from "next/navigation";
import { memo, useEffect, useMemo, useRef, type RefObject } from "react";
import { CartesianGrid, ComposedChart, ErrorBar, Line, ResponsiveContainer, Scatter, Tooltip, XAxis, YAxis, useXAxisScale, useYAxisScale } from "recharts";
import type { FrontPoint, ParetoResponse } from "@/lib/api-client";
import { formatMetric, getMetric, metricDirection } from "@/lib/metrics";
import { speedupVerdict } from "@/lib/metrics/intervals";
import { downloadPng, downloadSvg } from "./chart-export";
import { formatParams, metricLabel } from "./ui";

/** Okabe-Ito, the colour-blind-safe categorical palette (Okabe & Ito 2008), ordered so neighbours differ most. */
export const PALETTE = ["#0072B2", "#E69F00", "#009E73", "#D55E00", "#CC79A7", "#56B4E9", "#F0E442", "#000000"];

export function groupColor(keys: string[], key: string): string {
  const i = keys.indexOf(key);
  return i < 0 ? "#868e96" : PALETTE[i % PALETTE.length];
}

/**
 * A point drawn on the chart: a front point (full detail) or a dominated sample (id and values),
 * with the 95% interval bounds of either axis when its metric has them (xLo/xHi, yLo/yHi).
 */
export type Pt = { runId: number; x: number; y: number; group: string; dominated?: boolean; baseline?: boolean } & Partial<
  Omit<FrontPoint, "runId" | "x" | "y">
>;

/** Error-bar extents as recharts wants them (distances below and above the value), when the point has bounds. */
type Drawn = Pt & { ex?: [number, number]; ey?: [number, number] };

function withErrors(p: Pt): Drawn {
  const d: Drawn = p;
  if (p.xLo !== undefined && p.xHi !== undefined) d.ex = [Math.max(0, p.x - p.xLo), Math.max(0, p.xHi - p.x)];
  if (p.yLo !== undefined && p.yHi !== undefined) d.ey = [Math.max(0, p.y - p.yLo), Math.max(0, p.yHi - p.y)];
  return d;
}

const hasBars = (p: Drawn) => p.ex !== undefined || p.ey !== undefined;

/** "12.31 ms [11.90, 12.84]": a value with its 95% interval when the point has one. */
function withInterval(key: string, v: number, lo: number | undefined, hi: number | undefined): string {
  return lo !== undefined && hi !== undefined ? `${formatMetric(key, v)} [${formatMetric(key, lo)}, ${formatMetric(key, hi)}]` : formatMetric(key, v);
}

/** What a charted speedup says once its interval is known: a speedup whose interval holds 1.0 is no change. */
function SpeedupWord({ lo, hi }: { lo?: number; hi?: number }) {
  if (lo === undefined || hi === undefined) return null;
  const v = speedupVerdict(lo, hi);
  return (
    <div className={v === "faster" ? "good" : v === "slower" ? "bad" : "muted"} data-testid="speedup-verdict">
      {v === "no measurable change" ? "no measurable change (the 95% interval holds 1.0×)" : `${v} (95% interval excludes 1.0×)`}
    </div>
  );
}

interface Props {
  data: ParetoResponse | undefined;
  /** Baseline runs under the same filter, drawn distinctly whether or not they are on a front. */
  baselines: Pt[];
  title: string;
  colorKeys: string[];
  hidden: Set<string>;
  logX: boolean;
  logY: boolean;
  exportName: string;
}

function PointTooltip({ active, payload, xKey, yKey }: { active?: boolean; payload?: { payload: Pt }[]; xKey: string; yKey: string }) {
  if (!active || !payload?.length) return null;
  const p = payload[0].payload;
  if (p.runId === undefined) return null;
  return (
    <div className="chart-tip">
      <div>
        <b>#{p.runId}</b> {p.methodId ?? p.group}{" "}
        {p.baseline ? (
          <span className="muted">(baseline)</span>
        ) : p.dominated ? (
          <span className="muted">(dominated)</span>
        ) : (
          <span className="good">(on front)</span>
        )}
      </div>
      {p.params && Object.keys(p.params).length > 0 && <div className="muted">{formatParams(p.params)}</div>}
      <div>
        {metricLabel(yKey)}: {withInterval(yKey, p.y, p.yLo, p.yHi)}
      </div>
      <div>
        {metricLabel(xKey)}: {withInterval(xKey, p.x, p.xLo, p.xHi)}
      </div>
      {yKey === "speedup" && <SpeedupWord lo={p.yLo} hi={p.yHi} />}
      {xKey === "speedup" && <SpeedupWord lo={p.xLo} hi={p.xHi} />}
      {p.n !== undefined ? (
        <div className="muted small" data-testid="seed-note">
          mean of {p.n} run{p.n === 1 ? "" : "s"} differing only by seed{p.n > 1 ? "; [ ]: ± 1 standard deviation, drawn as error bars" : ""}
        </div>
      ) : (
        (p.xLo !== undefined || p.yLo !== undefined) && <div className="muted small">[ ]: 95% interval, drawn as error bars</div>
      )}
      {[p.modelId, p.datasetId, p.runtime, p.hardwareKey].filter(Boolean).length > 0 && (
        <div className="muted">{[p.modelId, p.datasetId, p.runtime, p.hardwareKey].filter(Boolean).join(" · ")}</div>
      )}
      <div className="muted small">click to open the run</div>
    </div>
  );
}

/** Axis ticks in the metric's unit, without trailing zeros ("2.50 MB" -> "2.5 MB"). */
const axisTick = (key: string) => (v: number) =>
  formatMetric(key, v)
    .replace(/(\.\d*?)0+(?=\D|$)/, "$1")
    .replace(/\.(?=\D|$)/, "");

/** What the x and y axes share: a numeric metric axis over its nice domain, linear or log. */
const metricAxis = (key: string, log: boolean, axis: ReturnType<typeof niceAxis>) => ({
  type: "number" as const,
  name: metricLabel(key),
  scale: log ? ("log" as const) : ("auto" as const),
  domain: axis.domain,
  ticks: axis.ticks,
  allowDataOverflow: true,
  tickFormatter: axisTick(key),
});

/**
 * Dominated points drawn as one SVG path per colour (a zero-length round-capped segment per point)
 * instead of one React element each: 2,000 sampled points as recharts shapes took a 1.8 s main-thread
 * task on a filter change (scripts/bench-dashboard.ts, 2-core box under load); one path is cheap.
 * A click picks the nearest point within 6 px.
 */
function DominatedLayer({ points, colorKeys, onOpen }: { points: Pt[]; colorKeys: string[]; onOpen: (runId: number) => void }) {
  const xs = useXAxisScale();
  const ys = useYAxisScale();
  const { paths, bars, pix } = useMemo(() => {
    const byColor = new Map<string, string[]>();
    const barsByColor = new Map<string, string[]>();
    const pix: { x: number; y: number; runId: number }[] = [];
    if (!xs || !ys) return { paths: [], bars: [], pix };
    const px = (v: number, scale: (v: number) => number | undefined) => {
      const s = scale(v);
      return s === undefined || !Number.isFinite(s) ? null : s.toFixed(1);
    };
    for (const p of points) {
      const x = xs(p.x);
      const y = ys(p.y);
      if (x === undefined || y === undefined || !Number.isFinite(x) || !Number.isFinite(y)) continue;
      const c = groupColor(colorKeys, p.group);
      let d = byColor.get(c);
      if (!d) byColor.set(c, (d = []));
      d.push(`M${x.toFixed(1)} ${y.toFixed(1)}h0`);
      pix.push({ x, y, runId: p.runId });
      // Interval bounds as thin whiskers in the same colour: one path per colour, like the points.
      if (p.xLo !== undefined && p.xHi !== undefined) {
        const a = px(p.xLo, xs);
        const b = px(p.xHi, xs);
        if (a && b) (barsByColor.get(c) ?? barsByColor.set(c, []).get(c)!).push(`M${a} ${y.toFixed(1)}H${b}`);
      }
      if (p.yLo !== undefined && p.yHi !== undefined) {
        const a = px(p.yLo, ys);
        const b = px(p.yHi, ys);
        if (a && b) (barsByColor.get(c) ?? barsByColor.set(c, []).get(c)!).push(`M${x.toFixed(1)} ${a}V${b}`);
      }
    }
    return {
      paths: [...byColor].map(([color, d]) => ({ color, d: d.join("") })),
      bars: [...barsByColor].map(([color, d]) => ({ color, d: d.join(""), n: d.length })),
      pix,
    };
  }, [points, colorKeys, xs, ys]);
  const click = (e: React.MouseEvent<SVGGElement>) => {
    const svg = (e.currentTarget as SVGGElement).ownerSVGElement;
    if (!svg) return;
    const box = svg.getBoundingClientRect();
    const mx = e.clientX - box.left;
    const my = e.clientY - box.top;
    let best: { d: number; runId: number } | null = null;
    for (const p of pix) {
      const d = (p.x - mx) ** 2 + (p.y - my) ** 2;
      if (d <= 36 && (!best || d < best.d)) best = { d, runId: p.runId };
    }
    if (best) onOpen(best.runId);
  };
  return (
    // biome-ignore lint/a11y/noStaticElementInteractions: a pointer shortcut to the nearest sampled point; every run is also reachable by keyboard from the group table's links
    <g className="dominated-layer" data-points={pix.length} onClick={click} style={{ cursor: "pointer" }}>
      {bars.map((b) => (
        <path
          key={`bars-${b.color}`}
          className="dominated-error-bars"
          data-bars={b.n}
          d={b.d}
          stroke={b.color}
          strokeOpacity={0.35}
          strokeWidth={1}
          fill="none"
        />
      ))}
      {paths.map((p) => (
        <path key={p.color} d={p.d} stroke={p.color} strokeOpacity={0.35} strokeWidth={5} strokeLinecap="round" fill="none" />
      ))}
    </g>
  );
}

/**
 * Whether a metric can never be negative (every unit-bearing metric, and perplexity): its axis
 * starts at zero at the lowest, never below it.
 */
export function isNonNegative(key: string): boolean {
  const m = getMetric(key);
  return m !== undefined && (m.unit !== "" || m.key === "perplexity");
}

/**
 * Axis range and ticks over every drawn point (fronts, baselines and the dominated sample), rounded
 * out to a 1-2-5 step (linear) or to decades (log) so the ticks read as round numbers.
 */
export function niceAxis(values: number[], log: boolean, nonNegative = false): { domain: [number, number] | ["auto", "auto"]; ticks?: number[] } {
  let lo = Infinity;
  let hi = -Infinity;
  for (const x of values) {
    if (!Number.isFinite(x) || (log && x <= 0)) continue;
    if (x < lo) lo = x;
    if (x > hi) hi = x;
  }
  if (lo > hi) return { domain: ["auto", "auto"] };
  // A margin keeps points off the frame, where half of each marker would be clipped.
  if (log) {
    lo /= 1.1;
    hi *= 1.1;
    const a = Math.floor(Math.log10(lo));
    const b = Math.ceil(Math.log10(hi)) + (lo === hi ? 1 : 0);
    const ticks: number[] = [];
    for (let e = a; e <= b; e++) for (const m of b - a <= 2 ? [1, 2, 5] : [1]) if (m * 10 ** e <= 10 ** b) ticks.push(m * 10 ** e);
    return { domain: [10 ** a, 10 ** b], ticks };
  }
  if (lo === hi) {
    const d = Math.abs(lo) * 0.1 || 1;
    lo -= d;
    hi += d;
  }
  const margin = (hi - lo) * 0.03;
  // A metric that cannot be negative (ms, bytes, perplexity) never gets an axis running below zero.
  const floor = nonNegative && lo >= 0;
  lo = floor ? Math.max(0, lo - margin) : lo - margin;
  hi += margin;
  const raw = (hi - lo) / 5;
  const mag = 10 ** Math.floor(Math.log10(raw));
  const step = [1, 2, 2.5, 5, 10].map((m) => m * mag).find((s) => s >= raw)!;
  const start = floor ? Math.max(0, Math.floor(lo / step) * step) : Math.floor(lo / step) * step;
  const end = Math.ceil(hi / step) * step;
  const ticks: number[] = [];
  for (let t = start; t <= end + step / 2; t += step) ticks.push(Number(t.toPrecision(12)));
  return { domain: [ticks[0], ticks[ticks.length - 1]], ticks };
}

/**
 * The router, for opening a run, kept out of the chart: useRouter reads the layout's router context,
 * which changes on every URL change, so a chart calling it redrew itself (and remounted every point)
 * on each filter change before the new data was even requested (~200 ms on 100k runs).
 */
function RouterBridge({ push }: { push: RefObject<((href: string) => void) | null> }) {
  const router = useRouter();
  useEffect(() => {
    push.current = (href) => router.push(href);
  }, [router, push]);
  return null;
}

/**
 * One Pareto chart: each group's front as a step line with highlighted points, dominated points
 * faded, baselines drawn as black-edged diamonds. Memoized so a hover elsewhere does not redraw
 * thousands of points.
 */
export const ParetoChart = memo(function ParetoChart({ data, baselines: allBaselines, title, colorKeys, hidden, logX, logY, exportName }: Props) {
  const push = useRef<((href: string) => void) | null>(null);
  const box = useRef<HTMLDivElement>(null);
  const xKey = data?.x.key ?? "";
  const yKey = data?.y.key ?? "";
  // The attainment boundary runs flat from each front point until the next one improves y.
  const stepType = (data?.x.direction ?? metricDirection(xKey)) === "lower" ? "stepAfter" : "stepBefore";

  const { fronts, dominated, baselines } = useMemo(() => {
    const fronts: { key: string; points: Drawn[] }[] = [];
    const visible = (p: { x: number; y: number }) => (!logX || p.x > 0) && (!logY || p.y > 0);
    for (const g of data?.groups ?? []) {
      if (hidden.has(g.key)) continue;
      const pts = g.front
        .filter(visible)
        .map((p) => withErrors({ ...p, group: g.key }))
        .sort((a, b) => a.x - b.x);
      fronts.push({ key: g.key, points: pts });
    }
    const dominated: Pt[] = [];
    for (const p of data?.dominated ?? []) {
      if (hidden.has(p.group) || !visible(p)) continue;
      dominated.push({ ...p, dominated: true });
    }
    const baselines = allBaselines.filter((b) => !hidden.has(b.group) && visible(b)).map((b) => withErrors({ ...b }));
    return { fronts, dominated, baselines };
  }, [data, allBaselines, hidden, logX, logY]);
  const domains = useMemo(() => {
    const all: Pt[] = [...fronts.flatMap((f) => f.points), ...dominated, ...baselines];
    // The axes hold the error bars too, so no whisker runs off the frame.
    const xsAll = all.flatMap((p) => (p.xLo !== undefined && p.xHi !== undefined ? [p.x, p.xLo, p.xHi] : [p.x]));
    const ysAll = all.flatMap((p) => (p.yLo !== undefined && p.yHi !== undefined ? [p.y, p.yLo, p.yHi] : [p.y]));
    return { x: niceAxis(xsAll, logX, isNonNegative(xKey)), y: niceAxis(ysAll, logY, isNonNegative(yKey)) };
  }, [fronts, dominated, baselines, logX, logY, xKey, yKey]);
  const errorBars =
    fronts.reduce((n, f) => n + f.points.filter(hasBars).length, 0) +
    baselines.filter(hasBars).length +
    dominated.filter((p) => p.xLo !== undefined || p.yLo !== undefined).length;

  const openRun = (runId: number) => push.current?.(`/runs/${runId}`);
  const open = (p: unknown) => {
    const runId = (p as { payload?: Pt })?.payload?.runId ?? (p as Pt)?.runId;
    if (runId !== undefined) openRun(runId);
  };

  return (
    <div className="card chart-card">
      <RouterBridge push={push} />
      <div className="chart-head">
        <h2>
          {title}
          {data?.aggregate === "seeds" ? <span className="muted small"> · means over seeds, bars ± 1 sd</span> : null}
        </h2>
        <span className="spacer" />
        <button type="button" className="secondary small" onClick={() => box.current && downloadSvg(box.current, exportName)}>
          SVG
        </button>
        <button type="button" className="secondary small" onClick={() => box.current && void downloadPng(box.current, exportName)}>
          PNG
        </button>
      </div>
      <div
        ref={box}
        className="chart-box"
        data-testid={`chart-${exportName}`}
        data-front-points={fronts.reduce((n, f) => n + f.points.length, 0)}
        data-dominated-points={dominated.length}
        data-error-bars={errorBars}
      >
        <ResponsiveContainer width="100%" height={380}>
          <ComposedChart margin={{ top: 10, right: 20, bottom: 30, left: 20 }}>
            <CartesianGrid strokeDasharray="3 3" stroke="#e9ecef" />
            <XAxis
              {...metricAxis(xKey, logX, domains.x)}
              dataKey="x"
              label={{ value: `${metricLabel(xKey)} ${metricDirection(xKey) === "lower" ? "← better" : "→ better"}`, position: "bottom", offset: 10 }}
            />
            <YAxis
              {...metricAxis(yKey, logY, domains.y)}
              dataKey="y"
              width={70}
              label={{
                value: `${metricLabel(yKey)} ${metricDirection(yKey) === "lower" ? "↓ better" : "↑ better"}`,
                angle: -90,
                position: "left",
                offset: 5,
                style: { textAnchor: "middle" },
              }}
            />
            <Tooltip content={<PointTooltip xKey={xKey} yKey={yKey} />} isAnimationActive={false} cursor={{ strokeDasharray: "3 3" }} />
            <DominatedLayer points={dominated} colorKeys={colorKeys} onOpen={openRun} />
            {/* A one-point front has no line: recharts would draw its single point as a hollow dot over the front marker. */}
            {fronts
              .filter((f) => f.points.length > 1)
              .map((f) => (
                <Line
                  key={`line-${f.key}`}
                  data={f.points}
                  dataKey="y"
                  type={stepType}
                  stroke={groupColor(colorKeys, f.key)}
                  strokeWidth={1.5}
                  dot={false}
                  activeDot={false}
                  isAnimationActive={false}
                  legendType="none"
                  tooltipType="none"
                />
              ))}
            {fronts.map((f) => (
              <Scatter
                key={`front-${f.key}`}
                name={f.key}
                data={f.points}
                isAnimationActive={false}
                onClick={open}
                shape={(props: { cx?: number; cy?: number }) => (
                  <circle
                    cx={props.cx}
                    cy={props.cy}
                    r={4.5}
                    fill={groupColor(colorKeys, f.key)}
                    stroke="#fff"
                    strokeWidth={1}
                    className="pt-front"
                    style={{ cursor: "pointer" }}
                  />
                )}
              >
                {f.points.some((p) => p.ex) && (
                  <ErrorBar dataKey="ex" direction="x" width={4} stroke={groupColor(colorKeys, f.key)} strokeWidth={1.2} isAnimationActive={false} />
                )}
                {f.points.some((p) => p.ey) && (
                  <ErrorBar dataKey="ey" direction="y" width={4} stroke={groupColor(colorKeys, f.key)} strokeWidth={1.2} isAnimationActive={false} />
                )}
              </Scatter>
            ))}
            <Scatter
              name="baseline"
              data={baselines}
              isAnimationActive={false}
              onClick={open}
              shape={(props: { cx?: number; cy?: number }) =>
                props.cx === undefined || props.cy === undefined ? (
                  <g />
                ) : (
                  <path
                    d={`M${props.cx},${props.cy - 7}L${props.cx + 7},${props.cy}L${props.cx},${props.cy + 7}L${props.cx - 7},${props.cy}Z`}
                    fill="#fff"
                    stroke="#111"
                    strokeWidth={2}
                    className="pt-baseline"
                    style={{ cursor: "pointer" }}
                  />
                )
              }
            >
              {baselines.some((p) => p.ex) && <ErrorBar dataKey="ex" direction="x" width={4} stroke="#111" strokeWidth={1.2} isAnimationActive={false} />}
              {baselines.some((p) => p.ey) && <ErrorBar dataKey="ey" direction="y" width={4} stroke="#111" strokeWidth={1.2} isAnimationActive={false} />}
            </Scatter>
          </ComposedChart>
        </ResponsiveContainer>
      </div>
    </div>
  );
});
