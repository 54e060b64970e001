"use client";

import { useState } from "react";
import { RUN_STATUSES, RUNTIMES } from "@/lib/domain";
import { FAMILIES, METHODS } from "@/lib/methods";
import { METRICS } from "@/lib/metrics";
import { useDatasets, useModels } from "./queries";
import { metricLabel } from "./ui";
import { isFilterKey, useViewParams } from "./view-params";

function Select({ name, label, options }: { name: string; label: string; options: { value: string; label: string }[] }) {
  const { params, set } = useViewParams();
  const value = params.get(name) ?? "";
  // A value from the URL that the list lacks (a logged run's model id) is still shown as chosen.
  const all = value && !options.some((o) => o.value === value) ? [...options, { value, label: value }] : options;
  return (
    <label className="field-inline">
      <span>{label}</span>
      <select aria-label={label} value={value} onChange={(e) => set({ [name]: e.target.value || null })}>
        <option value="">any</option>
        {all.map((o) => (
          <option key={o.value} value={o.value}>
            {o.label}
          </option>
        ))}
      </select>
    </label>
  );
}

function TextFilter({ name, label, placeholder }: { name: string; label: string; placeholder?: string }) {
  const { params, set } = useViewParams();
  const current = params.get(name) ?? "";
  const [draft, setDraft] = useState<string | null>(null);
  const commit = () => {
    if (draft !== null && draft !== current) set({ [name]: draft.trim() || null });
    setDraft(null);
  };
  return (
    <label className="field-inline">
      <span>{label}</span>
      <input
        aria-label={label}
        size={10}
        placeholder={placeholder}
        value={draft ?? current}
        onChange={(e) => setDraft(e.target.value)}
        onBlur={commit}
        onKeyDown={(e) => e.key === "Enter" && commit()}
      />
    </label>
  );
}

/** Metric filters live in the URL as `metric.<key>>=v` / `metric.<key><=v`, exactly as the API reads them. */
function MetricFilters() {
  const { params, set } = useViewParams();
  const [key, setKey] = useState("perplexity");
  const [op, setOp] = useState<">" | "<">("<");
  const [value, setValue] = useState("");
  const active = [...params.entries()].filter(([k]) => k.startsWith("metric."));
  return (
    <span className="metric-filters">
      {active.map(([k, v]) => {
        const m = /^metric\.(.+?)([<>]?)$/.exec(k);
        return (
          <span key={k} className="chip">
            {m ? `${m[1]} ${m[2]}${v.startsWith("=") || m[2] === "" ? "" : "="} ${v}` : `${k}=${v}`}
            <button type="button" className="chip-x" aria-label={`remove ${k}`} onClick={() => set({ [k]: null })}>
              ×
            </button>
          </span>
        );
      })}
      <select aria-label="metric filter key" value={key} onChange={(e) => setKey(e.target.value)}>
        {METRICS.map((m) => (
          <option key={m.key} value={m.key}>
            {metricLabel(m.key)}
          </option>
        ))}
      </select>
      <select aria-label="metric filter operator" value={op} onChange={(e) => setOp(e.target.value as ">" | "<")}>
        <option value="<">≤</option>
        <option value=">">≥</option>
      </select>
      <input aria-label="metric filter value" size={6} value={value} onChange={(e) => setValue(e.target.value)} inputMode="decimal" />
      <button
        type="button"
        className="secondary"
        disabled={value.trim() === "" || !Number.isFinite(Number(value))}
        onClick={() => {
          set({ [`metric.${key}${op}`]: value.trim() });
          setValue("");
        }}
      >
        Add
      </button>
    </span>
  );
}

const PARAM_NAMES = [...new Set(METHODS.flatMap((m) => Object.keys(m.params.shape)))].sort();

/**
 * Parameter conditions live in the URL as `param.<name>=v`, `param.<name>>=v` or `param.<name><=v`,
 * exactly as the API reads them.
 */
function ParamFilters() {
  const { params, set } = useViewParams();
  const [name, setName] = useState("bits");
  const [op, setOp] = useState<"" | ">" | "<">("");
  const [value, setValue] = useState("");
  const active = [...params.entries()].filter(([k]) => k.startsWith("param."));
  const numeric = value.trim() !== "" && Number.isFinite(Number(value));
  return (
    <span className="metric-filters">
      {active.map(([k, v]) => {
        const m = /^param\.(.+?)([<>]?)$/.exec(k);
        const text = m ? `${m[1]} ${m[2] ? `${m[2]}=` : "="} ${v}` : `${k}=${v}`;
        return (
          <span key={`${k}=${v}`} className="chip">
            param {text}
            <button type="button" className="chip-x" aria-label={`remove ${k}`} onClick={() => set({ [k]: null })}>
              ×
            </button>
          </span>
        );
      })}
      <select aria-label="parameter filter name" value={name} onChange={(e) => setName(e.target.value)}>
        {PARAM_NAMES.map((p) => (
          <option key={p} value={p}>
            {p}
          </option>
        ))}
      </select>
      <select aria-label="parameter filter operator" value={op} onChange={(e) => setOp(e.target.value as "" | ">" | "<")}>
        <option value="">=</option>
        <option value=">">≥</option>
        <option value="<">≤</option>
      </select>
      <input aria-label="parameter filter value" size={6} value={value} onChange={(e) => setValue(e.target.value)} />
      <button
        type="button"
        className="secondary"
        disabled={value.trim() === "" || (op !== "" && !numeric)}
        onClick={() => {
          // key `param.bits>` with value 4 is `param.bits>=4` once written in the URL
          set({ [`param.${name}${op}`]: value.trim() });
          setValue("");
        }}
      >
        Add
      </button>
    </span>
  );
}

/** `load` false holds back the model and dataset lists (the explorer waits for its charts first). */
export function FiltersBar({ load = true }: { load?: boolean }) {
  const models = useModels(load);
  const datasets = useDatasets(load);
  const { params, set } = useViewParams();
  const anyFilter = [...params.keys()].some(isFilterKey);
  return (
    <div className="filters" data-testid="filters">
      <Select name="family" label="Family" options={FAMILIES.map((f) => ({ value: f, label: f }))} />
      <Select name="method" label="Method" options={METHODS.map((m) => ({ value: m.id, label: `${m.label} (${m.id})` }))} />
      <Select name="status" label="Status" options={RUN_STATUSES.map((s) => ({ value: s, label: s }))} />
      <Select name="model" label="Model" options={(models.data ?? []).map((m) => ({ value: m.id, label: m.id }))} />
      <Select name="dataset" label="Dataset" options={(datasets.data ?? []).map((d) => ({ value: d.id, label: d.id }))} />
      <Select name="runtime" label="Runtime" options={RUNTIMES.map((r) => ({ value: r, label: r }))} />
      <TextFilter name="hardware" label="Hardware" />
      <TextFilter name="tag" label="Tag" />
      <TextFilter name="experiment" label="Experiment" placeholder="id" />
      <MetricFilters />
      <ParamFilters />
      {anyFilter && (
        <button type="button" className="secondary" onClick={() => set(Object.fromEntries([...params.keys()].filter(isFilterKey).map((k) => [k, null])))}>
          Clear filters
        </button>
      )}
    </div>
  );
}
