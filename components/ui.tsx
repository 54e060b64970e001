"use client";

import type { ReactNode } from "react";
import { ApiError } from "@/lib/api-client";
import { getMethod } from "@/lib/methods";
import { formatMetric, getMetric } from "@/lib/metrics";

export function StatusBadge({ status }: { status: string }) {
  return (
    <span className={`badge status-${status}`} data-status={status}>
      {status}
    </span>
  );
}

export function ProgressBar({ value, label }: { value: number | null | undefined; label?: string }) {
  const pct = Math.max(0, Math.min(1, value ?? 0)) * 100;
  return (
    <span
      className="progress"
      role="progressbar"
      aria-label={label ?? "progress"}
      aria-valuenow={Math.round(pct)}
      aria-valuemin={0}
      aria-valuemax={100}
      title={label}
    >
      <span className="progress-fill" style={{ width: `${pct}%` }} />
    </span>
  );
}

/** A stacked bar of run counts by status (experiments list). */
export function StatusBar({ counts, total }: { counts: Partial<Record<string, number>>; total: number }) {
  const order = ["succeeded", "failed", "canceled", "running", "leased", "queued"];
  return (
    <span
      className="statusbar"
      title={order
        .filter((s) => counts[s])
        .map((s) => `${counts[s]} ${s}`)
        .join(", ")}
    >
      {total > 0 &&
        order.map((s) => (counts[s] ? <span key={s} className={`seg seg-${s}`} style={{ width: `${((counts[s] ?? 0) / total) * 100}%` }} /> : null))}
    </span>
  );
}

export function metricLabel(key: string): string {
  const m = getMetric(key);
  if (!m) return key;
  return m.unit && m.unit !== "ratio" ? `${m.label} (${m.unit})` : m.label;
}

export function MetricValue({ k, v }: { k: string; v: number | null | undefined }) {
  return <span className="num">{formatMetric(k, v)}</span>;
}

/** Relative change vs a baseline, coloured by whether it is better in the metric's direction. */
export function Delta({ k, v, base }: { k: string; v: number | undefined; base: number | undefined }) {
  if (v === undefined || base === undefined || !Number.isFinite(v) || !Number.isFinite(base) || base === 0) return null;
  const rel = (v - base) / Math.abs(base);
  if (Math.abs(rel) < 1e-9) return <span className="delta muted">±0%</span>;
  const dir = getMetric(k)?.direction ?? "higher";
  const good = dir === "higher" ? rel > 0 : rel < 0;
  return (
    <span className={`delta ${good ? "good" : "bad"}`}>
      {rel > 0 ? "+" : ""}
      {(rel * 100).toFixed(Math.abs(rel) < 0.1 ? 2 : 1)}%
    </span>
  );
}

export function formatTime(ms: number | null | undefined): string {
  if (!ms) return "—";
  const d = new Date(ms);
  return d.toISOString().replace("T", " ").slice(0, 19);
}

export function formatParams(p: Record<string, unknown> | undefined): string {
  if (!p) return "";
  return Object.entries(p)
    .map(([k, v]) => `${k}=${Array.isArray(v) ? `[${v.join(",")}]` : String(v)}`)
    .join(" ");
}

const defaultsCache = new Map<string, Record<string, unknown> | null>();

function methodDefaults(methodId: string): Record<string, unknown> | null {
  if (!defaultsCache.has(methodId)) {
    const r = getMethod(methodId)?.params.safeParse({});
    defaultsCache.set(methodId, r?.success ? (r.data as Record<string, unknown>) : null);
  }
  return defaultsCache.get(methodId)!;
}

/**
 * A method's leading param (bits, sparsity, budget: the first in its schema) plus every param that
 * differs from its default: what tells two runs of a sweep apart without repeating all defaults.
 */
export function paramsSummary(methodId: string, p: Record<string, unknown> | undefined): string {
  if (!p) return "";
  const d = methodDefaults(methodId);
  if (!d) return formatParams(p);
  const lead = Object.keys(d)[0];
  return formatParams(Object.fromEntries(Object.entries(p).filter(([k, v]) => k === lead || JSON.stringify(v) !== JSON.stringify(d[k]))));
}

export function ErrorBox({ error }: { error: unknown }) {
  if (!error) return null;
  const msg = error instanceof Error ? error.message : String(error);
  const details = error instanceof ApiError ? error.details : [];
  return (
    <div className="errorbox" role="alert">
      {msg}
      {details.length > 0 && (
        <ul>
          {details.map((d) => (
            <li key={`${d.field}\u0000${d.message}`}>
              <code>{d.field}</code>: {d.message}
            </li>
          ))}
        </ul>
      )}
    </div>
  );
}

export function Empty({ children }: { children: ReactNode }) {
  return <div className="empty">{children}</div>;
}

export function Loading({ what }: { what: string }) {
  return <div className="muted loading">Loading {what}…</div>;
}
