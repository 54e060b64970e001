"use client";

import Link from "next/link";
import { useMemo } from "react";
import type { ParetoContext, ParetoResponse, RunRow } from "@/lib/api-client";
import { formatMetric, getMetric, METRICS, PRIMARY_QUALITY, type MetricGroup } from "@/lib/metrics";
import { METHODS } from "@/lib/methods";
import { contextLabel, isParamGroup, NO_HARDWARE, PARETO_GROUPS, REFERENCE_MARGIN, type ParetoGroupBy } from "@/lib/schemas/pareto";
import { FiltersBar } from "./filters-bar";
import { FirstRun } from "./first-run";
import { groupColor, ParetoChart } from "./pareto-chart";
import { useExplorerData, useModels, useRuns } from "./queries";
import { SavedViewsMenu } from "./saved-views";
import { ShareButton } from "./share-button";
import { Empty, ErrorBox, formatParams, metricLabel, paramsSummary } from "./ui";
import { filterParams, SeedsToggle, useSeedsParam, useViewParams } from "./view-params";

/**
 * The default y is the primary quality metric of the shown context's dataset (perplexity on text,
 * exact match on recall, accuracy on multiple choice), resolved by the server: one default that
 * is right for every dataset, where a fixed "perplexity" left every recall run off the charts.
 */
const DEFAULTS = { y: PRIMARY_QUALITY, xl: "decode_ms_per_token", xm: "model_bytes" } as const;

/**
 * A line under the filters when recent runs are on shape models (random weights) and the y axis is
 * a quality metric those runs cannot have: one click shows them against decode time instead.
 */
function ShapeRunsHint({ recent, y, load }: { recent: RunRow[]; y: string; load: boolean }) {
  const { set, readOnly } = useViewParams();
  const models = useModels(load);
  const shapeIds = new Set((models.data ?? []).filter((m) => m.source === "shape" || m.card?.shapeOnly === true).map((m) => m.id));
  const ids = [...new Set(recent.filter((r) => shapeIds.has(r.modelId)).map((r) => r.modelId))].sort();
  if (readOnly || ids.length === 0 || getMetric(y)?.group !== "quality") return null;
  return (
    <p className="muted small" data-testid="shape-hint">
      Runs on {ids.join(", ")} (random weights) report speed and memory only, so they have no {metricLabel(y)} and are not in these charts:{" "}
      {ids.map((id) => (
        <button key={id} type="button" className="secondary small" onClick={() => set({ ...SHAPE_VIEW, model: id, hide: null })}>
          show {id}: decode vs prefill and size
        </button>
      ))}
    </p>
  );
}

/** Interval bounds (`<key>_lo`, `<key>_hi`) are drawn as error bars of their metric, never picked as an axis. */
const isBound = (k: string) => /_(lo|hi)$/.test(k);

/** The view of a shape model's runs: they carry no quality metric, so decode time is the y axis. */
const SHAPE_VIEW = { y: "decode_ms_per_token", xl: "prefill_ms", xm: "model_bytes" } as const;

function MetricPicker({
  name,
  label,
  group,
  seen,
  speedAlso,
  resolved,
}: {
  name: "y" | "xl" | "xm";
  label: string;
  group: MetricGroup;
  seen: Set<string>;
  speedAlso?: boolean;
  /** The metric the server resolved the default to (y=primary). */
  resolved?: string;
}) {
  const { params, set } = useViewParams();
  const value = params.get(name) ?? resolved ?? (DEFAULTS[name] === PRIMARY_QUALITY ? "perplexity" : DEFAULTS[name]);
  const keys = METRICS.filter((m) => m.group === group && !isBound(m.key)).map((m) => m.key);
  // Shape-model runs (random weights) have no quality metric: their speed is the y axis they can have.
  const speed = speedAlso ? METRICS.filter((m) => (m.group === "latency" || m.group === "memory") && !isBound(m.key)).map((m) => m.key) : [];
  // The axis from the URL stays selectable before the recent runs (which list the extra keys) arrive.
  const extra = [...new Set([...seen, value])].filter((k) => !METRICS.some((m) => m.key === k) && !isBound(k));
  const withData = [...keys.filter((k) => seen.has(k)), ...(group === "quality" ? extra : extra.filter((k) => k === value))];
  const without = keys.filter((k) => !seen.has(k));
  return (
    <label className="field-inline">
      <span>{label}</span>
      <select aria-label={label} value={value} onChange={(e) => set({ [name]: e.target.value })}>
        {withData.length > 0 && (
          <optgroup label="in recorded runs">
            {withData.map((k) => (
              <option key={k} value={k}>
                {metricLabel(k)}
              </option>
            ))}
          </optgroup>
        )}
        <optgroup label={withData.length > 0 ? "not in recent runs" : "metrics"}>
          {without.map((k) => (
            <option key={k} value={k}>
              {metricLabel(k)}
            </option>
          ))}
        </optgroup>
        {speed.length > 0 && (
          <optgroup label="speed and memory (shape models: no quality metric)">
            {speed.map((k) => (
              <option key={`speed-${k}`} value={k}>
                {metricLabel(k)}
              </option>
            ))}
          </optgroup>
        )}
      </select>
    </label>
  );
}

/** Every parameter name of the registry's methods: colour-by offers each (runs without it are "unknown"). */
const PARAM_NAMES = [...new Set(METHODS.flatMap((m) => Object.keys(m.params.shape)))].sort();

const contextKey = (c: Pick<ParetoContext, "modelId" | "datasetId" | "runtime" | "hardwareKey">) =>
  [c.modelId, c.datasetId, c.runtime, c.hardwareKey ?? NO_HARDWARE].join("\u001f");

/**
 * Which (model, dataset, runtime, hardware) context the charts show: fronts and hypervolumes are
 * only comparable within one, so the explorer shows one at a time (the most recent by default).
 */
function ContextPicker({ context, contexts }: { context: ParetoContext | null; contexts: ParetoContext[] }) {
  const { set } = useViewParams();
  if (!context) return null;
  const options = contexts.some((c) => contextKey(c) === contextKey(context)) ? contexts : [context, ...contexts];
  return (
    <div className="filters context-picker">
      <label className="field-inline">
        <span>Context</span>
        <select
          aria-label="Context"
          data-testid="context-picker"
          value={contextKey(context)}
          onChange={(e) => {
            const c = options.find((o) => contextKey(o) === e.target.value);
            if (c) set({ model: c.modelId, dataset: c.datasetId, runtime: c.runtime, hardware: c.hardwareKey ?? NO_HARDWARE, hide: null });
          }}
        >
          {options.map((c) => (
            <option key={contextKey(c)} value={contextKey(c)}>
              {contextLabel(c)}
              {c.runs !== undefined ? ` (${c.runs.toLocaleString("en-US")} run${c.runs === 1 ? "" : "s"})` : ""}
            </option>
          ))}
        </select>
      </label>
      <span className="muted small">
        {options.length > 1
          ? `${options.length} contexts match: fronts only compare runs of one model, dataset, runtime and hardware.`
          : "Fronts compare runs of one model, dataset, runtime and hardware."}
      </span>
    </div>
  );
}

/** How a chart's hypervolume reference was chosen, for the group table's header. */
function referenceNote(c: ParetoResponse | undefined): string {
  if (!c?.reference) return "";
  const at = `(${formatMetric(c.x.key, c.reference.x)}, ${formatMetric(c.y.key, c.reference.y)})`;
  if (c.referenceSource === "baseline") return `reference ${at}: baseline #${c.contexts[0]?.baselineRunId} worsened by ${REFERENCE_MARGIN * 100}% on each axis`;
  if (c.referenceSource === "query") return `reference ${at} from the URL (refX, refY)`;
  return `reference ${at}: the worst value per axis (no baseline run in this context, so it moves as runs arrive)`;
}

function GroupTable({
  lat,
  mem,
  colorKeys,
  hidden,
  acceptance,
}: {
  lat?: ParetoResponse;
  mem?: ParetoResponse;
  colorKeys: string[];
  hidden: Set<string>;
  /** acceptance_rate of speculative front runs, shown beside their point. */
  acceptance: ReadonlyMap<number, number>;
}) {
  const rows = (lat?.groups ?? []).slice().sort((a, b) => b.hypervolume - a.hypervolume);
  const memByKey = new Map((mem?.groups ?? []).map((g) => [g.key, g]));
  for (const g of mem?.groups ?? []) if (!rows.some((r) => r.key === g.key)) rows.push({ ...g, hypervolume: Number.NaN, front: [] });
  if (rows.length === 0) return null;
  const yKey = lat?.y.key ?? mem?.y.key ?? "";
  return (
    <div className="card">
      <h2>Groups ranked by hypervolume</h2>
      <p className="muted small" data-testid="hv-reference">
        {[lat, mem]
          .filter((c): c is ParetoResponse => !!c?.reference)
          .map((c) => `HV vs ${metricLabel(c.x.key)}: ${referenceNote(c)}`)
          .join(" · ")}
      </p>
      <table className="group-table" data-testid="group-table">
        <thead>
          <tr>
            <th>#</th>
            <th>Group</th>
            <th className="num">Runs</th>
            <th className="num">HV vs {metricLabel(lat?.x.key ?? "")}</th>
            <th className="num">HV vs {metricLabel(mem?.x.key ?? "")}</th>
            <th>
              Front ({metricLabel(yKey)} · {metricLabel(lat?.x.key ?? "")})
            </th>
          </tr>
        </thead>
        <tbody>
          {rows.map((g, i) => (
            <tr key={g.key} className={hidden.has(g.key) ? "faded" : undefined}>
              <td>{i + 1}</td>
              <td>
                <span className="swatch" style={{ background: groupColor(colorKeys, g.key) }} /> {g.key}
              </td>
              <td className="num">{g.count}</td>
              <td className="num">{Number.isFinite(g.hypervolume) ? g.hypervolume.toPrecision(4) : "—"}</td>
              <td className="num">{memByKey.get(g.key)?.hypervolume.toPrecision(4) ?? "—"}</td>
              <td className="front-list">
                {g.front.map((p) => (
                  // No prefetch: each visible link would render its run page on the server, dozens per
                  // view, competing with the Pareto request for the same cores on every filter change.
                  <Link key={p.runId} href={`/runs/${p.runId}`} prefetch={false} title={`${p.methodId} ${formatParams(p.params)}`}>
                    #{p.runId} {p.methodId}
                    {paramsSummary(p.methodId, p.params) ? ` ${paramsSummary(p.methodId, p.params)}` : ""} · {formatMetric(yKey, p.y)} ·{" "}
                    {formatMetric(lat?.x.key ?? "", p.x)}
                    {acceptance.has(p.runId) ? ` · acceptance ${formatMetric("acceptance_rate", acceptance.get(p.runId))}` : ""}
                  </Link>
                ))}
              </td>
            </tr>
          ))}
        </tbody>
      </table>
    </div>
  );
}

export function Explorer() {
  const { params, set, readOnly } = useViewParams();
  const filters = filterParams(params);
  const y = params.get("y") ?? DEFAULTS.y;
  const xl = params.get("xl") ?? DEFAULTS.xl;
  const xm = params.get("xm") ?? DEFAULTS.xm;
  const groupParam = params.get("group") ?? "";
  const group: ParetoGroupBy = (PARETO_GROUPS as readonly string[]).includes(groupParam) || isParamGroup(groupParam) ? (groupParam as ParetoGroupBy) : "family";
  const logX = params.get("logx") === "1";
  const logY = params.get("logy") === "1";
  const seeds = useSeedsParam();
  // Keyed by the values: `params` is new on every URL change, and a new set would redraw both charts
  // with the old data before the new request even starts.
  const hideKey = params.getAll("hide").join("\n");
  const hidden = useMemo(() => new Set(hideKey ? hideKey.split("\n") : []), [hideKey]);
  const { load, live, recent, seen, lat, mem, error, baselines, colorKeys, fetching, context, contexts } = useExplorerData({
    filters,
    y,
    xl,
    xm,
    group,
    readOnly,
    aggregate: seeds ? "seeds" : "none",
  });
  // The y the charts show: the URL's, or what the server resolved the default to.
  const yShown = lat?.y.key ?? mem?.y.key ?? (y === PRIMARY_QUALITY ? "perplexity" : y);
  const toggle = (key: string) => set({ hide: hidden.has(key) ? [...hidden].filter((k) => k !== key) : [...hidden, key] });
  // Speculative fronts show each point's acceptance rate in the group table (a method metric, not an axis).
  const specFront = [lat, mem].some((c) => c?.groups.some((g) => g.front.some((p) => p.family === "speculative")));
  const specRuns = useRuns({ ...filters, family: "speculative", status: "succeeded", limit: "200" }, load && !readOnly && specFront);
  const acceptance = useMemo(
    () => new Map((specRuns.data?.runs ?? []).filter((r) => r.metrics.acceptance_rate !== undefined).map((r) => [r.id, r.metrics.acceptance_rate])),
    [specRuns.data],
  );

  const emptyDb = recent.data && recent.data.total === 0 && Object.keys(filters).length === 0 && !params.has("includeSynthetic");
  if (emptyDb && !readOnly) return <FirstRun />;

  return (
    <div className="explorer">
      <div className="toolbar">
        <h1>Pareto explorer</h1>
        <span className="muted" data-testid="pareto-total">
          {lat ? `${lat.total.toLocaleString("en-US")} runs with ${metricLabel(yShown)} and ${metricLabel(xl)}` : ""}
        </span>
        <span className="spacer" />
        <ShareButton />
        <SavedViewsMenu />
      </div>
      <div className="filters">
        <MetricPicker
          name="y"
          label={getMetric(yShown) && getMetric(yShown)!.group !== "quality" ? "Y axis" : "Quality"}
          group="quality"
          seen={seen}
          speedAlso
          resolved={params.get("y") ? undefined : yShown}
        />
        <MetricPicker name="xl" label="Latency" group="latency" seen={seen} />
        <MetricPicker name="xm" label="Memory" group="memory" seen={seen} />
        <label className="field-inline">
          <span>Colour by</span>
          <select aria-label="Colour by" value={group} onChange={(e) => set({ group: e.target.value, hide: null })}>
            {PARETO_GROUPS.map((g) => (
              <option key={g}>{g}</option>
            ))}
            <optgroup label="method parameter">
              {PARAM_NAMES.map((p) => (
                <option key={p} value={`param.${p}`}>
                  param {p}
                </option>
              ))}
            </optgroup>
          </select>
        </label>
        <label className="field-inline">
          <input type="checkbox" checked={logX} onChange={(e) => set({ logx: e.target.checked ? "1" : null })} /> log x
        </label>
        <label className="field-inline">
          <input type="checkbox" checked={logY} onChange={(e) => set({ logy: e.target.checked ? "1" : null })} /> log y
        </label>
        <SeedsToggle becomes="one point at their mean, with ± 1 sd error bars" />
        {fetching && <span className="muted">updating…</span>}
      </div>
      <ContextPicker context={context} contexts={contexts} />
      <FiltersBar load={load} />
      <ShapeRunsHint recent={recent.data?.runs ?? []} y={yShown} load={load} />
      <ErrorBox error={error} />
      <div className="legend" data-testid="legend">
        {colorKeys.map((k) => (
          <button key={k} type="button" className={`legend-item${hidden.has(k) ? " off" : ""}`} onClick={() => toggle(k)} aria-pressed={!hidden.has(k)}>
            <span className="swatch" style={{ background: groupColor(colorKeys, k) }} />
            {k}
          </button>
        ))}
        {colorKeys.length > 0 && (
          <span className="muted small legend-note">
            <span className="diamond" /> baseline · ● front · <span className="faint">●</span> dominated (sampled)
          </span>
        )}
      </div>
      {lat && lat.total === 0 && mem && mem.total === 0 ? (
        <Empty>
          {live ? (
            <>
              Runs are in flight: each front appears here as its runs finish (see <Link href="/experiments">experiments</Link> for progress).
            </>
          ) : (
            <>
              No run has both {metricLabel(yShown)} and {metricLabel(xl)} or {metricLabel(xm)}
              {Object.keys(filters).length > 0 ? " under these filters" : ""}. Pick other axes above
              {readOnly ? (
                ""
              ) : (
                <>
                  , or <Link href="/experiments/new">submit an experiment</Link>
                </>
              )}
              .
            </>
          )}
        </Empty>
      ) : (
        <div className="charts">
          <ParetoChart
            data={lat}
            baselines={baselines.lat}
            title={`${metricLabel(yShown)} vs ${metricLabel(xl)}`}
            colorKeys={colorKeys}
            hidden={hidden}
            logX={logX}
            logY={logY}
            exportName="pareto-latency"
          />
          <ParetoChart
            data={mem}
            baselines={baselines.mem}
            title={`${metricLabel(yShown)} vs ${metricLabel(xm)}`}
            colorKeys={colorKeys}
            hidden={hidden}
            logX={logX}
            logY={logY}
            exportName="pareto-memory"
          />
        </div>
      )}
      {(lat?.dominatedTotal ?? 0) > (lat?.dominated.length ?? 0) && (
        <p className="muted small">
          Showing {lat!.dominated.length.toLocaleString("en-US")} of {lat!.dominatedTotal.toLocaleString("en-US")} dominated runs (an even sample); every front
          point is drawn.
        </p>
      )}
      <GroupTable lat={lat} mem={mem} colorKeys={colorKeys} hidden={hidden} acceptance={acceptance} />
    </div>
  );
}
