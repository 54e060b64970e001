"use client";

import Link from "next/link";
import { type ReactNode, useEffect, useRef, useState } from "react";
import { CartesianGrid, Line, LineChart, ResponsiveContainer, Tooltip, XAxis, YAxis } from "recharts";
import { useMutation, useQuery, useQueryClient } from "@tanstack/react-query";
import { api, isActive, type RunDetail } from "@/lib/api-client";
import { qk } from "@/lib/query-keys";
import { getMethod } from "@/lib/methods";
import { formatMetric } from "@/lib/metrics";
import { metricInterval, speedupVerdict } from "@/lib/metrics/intervals";
import { usePatchRun, useRun, useRunAction, useRunSeries } from "./queries";
import { Delta, ErrorBox, formatTime, Loading, metricLabel, ProgressBar, StatusBadge } from "./ui";

export function RunActions({ id, status }: { id: number; status: string }) {
  const cancel = useRunAction("cancel");
  const retry = useRunAction("retry");
  return (
    <span className="actions">
      {isActive(status) && (
        <button
          type="button"
          className="danger"
          onClick={() => {
            if (window.confirm(`Cancel run #${id}? A queued run will not start; a running one stops.`)) cancel.mutate(id);
          }}
          disabled={cancel.isPending}
        >
          Cancel
        </button>
      )}
      {(status === "failed" || status === "canceled") && (
        <button type="button" className="secondary" onClick={() => retry.mutate(id)} disabled={retry.isPending}>
          Retry
        </button>
      )}
      <ErrorBox error={cancel.error ?? retry.error} />
    </span>
  );
}

function Annotations({ run }: { run: RunDetail }) {
  const patch = usePatchRun(run.id);
  const [tags, setTags] = useState(run.tags.join(", "));
  const [notes, setNotes] = useState(run.notes ?? "");
  const dirty = tags !== run.tags.join(", ") || notes !== (run.notes ?? "");
  return (
    <form
      className="card annotations"
      onSubmit={(e) => {
        e.preventDefault();
        patch.mutate({
          tags: tags
            .split(",")
            .map((t) => t.trim())
            .filter(Boolean),
          notes: notes.trim() === "" ? null : notes,
        });
      }}
    >
      <h2>Tags and notes</h2>
      <label className="field">
        <span>Tags (comma-separated)</span>
        <input aria-label="tags" value={tags} onChange={(e) => setTags(e.target.value)} />
      </label>
      <label className="field">
        <span>Notes</span>
        <textarea aria-label="notes" rows={3} value={notes} onChange={(e) => setNotes(e.target.value)} />
      </label>
      <button type="submit" disabled={!dirty || patch.isPending}>
        Save
      </button>
      {patch.isSuccess && !dirty && <span className="muted"> saved</span>}
      <ErrorBox error={patch.error} />
    </form>
  );
}

function Logs({ run }: { run: RunDetail }) {
  const box = useRef<HTMLDivElement>(null);
  const n = run.events.length;
  useEffect(() => {
    // Follow the tail while the run is live, as a terminal would: again whenever a line arrives.
    if (n > 0 && box.current && isActive(run.status)) box.current.scrollTop = box.current.scrollHeight;
  }, [n, run.status]);
  return (
    <div className="card">
      <h2>Logs {isActive(run.status) && <span className="muted small">(live)</span>}</h2>
      {n === 0 ? (
        <p className="muted">No log lines.</p>
      ) : (
        <div className="logs" ref={box} data-testid="logs">
          {run.events.map((e) => (
            <div key={e.id} className={`log log-${e.level}`}>
              <span className="muted">{formatTime(e.ts).slice(11)}</span> <span className="log-level">{e.level}</span> {e.message}
            </div>
          ))}
        </div>
      )}
    </div>
  );
}

function Series({ run }: { run: RunDetail }) {
  const [key, setKey] = useState<string | null>(run.seriesKeys[0] ?? null);
  const series = useRunSeries(run.id, key, isActive(run.status));
  if (run.seriesKeys.length === 0) return null;
  const points = series.data?.series.find((s) => s.key === key)?.points ?? [];
  return (
    <div className="card">
      <div className="chart-head">
        <h2>Time series</h2>
        <span className="spacer" />
        <select aria-label="series" value={key ?? ""} onChange={(e) => setKey(e.target.value)}>
          {run.seriesKeys.map((k) => (
            <option key={k} value={k}>
              {metricLabel(k)}
            </option>
          ))}
        </select>
      </div>
      <ResponsiveContainer width="100%" height={260}>
        <LineChart data={points} margin={{ top: 10, right: 20, bottom: 20, left: 20 }}>
          <CartesianGrid strokeDasharray="3 3" stroke="#e9ecef" />
          <XAxis dataKey="step" type="number" domain={["auto", "auto"]} label={{ value: "step", position: "bottom" }} />
          <YAxis dataKey="value" domain={["auto", "auto"]} width={70} tickFormatter={(v: number) => formatMetric(key ?? "", v)} />
          <Tooltip formatter={(v) => formatMetric(key ?? "", Number(v))} labelFormatter={(s) => `step ${s}`} isAnimationActive={false} />
          <Line type="monotone" dataKey="value" stroke="#2f6fde" dot={points.length < 50} isAnimationActive={false} />
        </LineChart>
      </ResponsiveContainer>
      <ErrorBox error={series.error} />
    </div>
  );
}

/** One labelled row of a key-value table. */
function KvRow({ label, children }: { label: string; children: ReactNode }) {
  return (
    <tr>
      <th>{label}</th>
      <td>{children}</td>
    </tr>
  );
}

/**
 * The run's model as GGUF for llama.cpp and Ollama: each type a link where the export is exact,
 * else greyed with the reason (e.g. Q4_0 needs symmetric 4-bit codes in groups of 32).
 */
function GgufDownloads({ runId }: { runId: number }) {
  const q = useQuery({ queryKey: ["gguf", runId], queryFn: () => api.runGguf(runId), staleTime: 300_000 });
  if (!q.data) return q.error ? <ErrorBox error={q.error} /> : null;
  return (
    <p data-testid="gguf-downloads">
      Download as GGUF (llama.cpp, Ollama):{" "}
      {q.data.types.map((t, i) => (
        <span key={t.type}>
          {i > 0 ? " · " : ""}
          {t.url ? (
            <a href={t.url} download>
              {t.type.toUpperCase()}
            </a>
          ) : (
            <span className="muted" title={t.reason ?? ""}>
              {t.type.toUpperCase()} (not exact)
            </span>
          )}
        </span>
      ))}
    </p>
  );
}

/**
 * Registers the run's output model as a base model (POST /api/v1/models with fromRun), so another
 * method can start from it: a pruned model quantized next, as the SparseGPT paper does.
 */
function RegisterAsModel({ run }: { run: RunDetail }) {
  const [id, setId] = useState(`${run.modelId}-run${run.id}`.slice(0, 64));
  const qc = useQueryClient();
  const register = useMutation({
    mutationFn: () => api.registerModel({ id, fromRun: run.id }),
    onSuccess: () => qc.invalidateQueries({ queryKey: qk.models() }),
  });
  return (
    <div className="register-model">
      <h3>Use as a base model</h3>
      {register.isSuccess ? (
        <p data-testid="registered-model">
          Registered as <code>{register.data.id}</code>: choose it as the model of a <Link href="/experiments/new">new experiment</Link>.
        </p>
      ) : (
        <form
          onSubmit={(e) => {
            e.preventDefault();
            register.mutate();
          }}
        >
          <label className="field-inline">
            <span>Model id</span>
            <input aria-label="model id" value={id} onChange={(e) => setId(e.target.value)} size={28} />
          </label>{" "}
          <button type="submit" className="secondary" disabled={register.isPending || id.trim() === ""}>
            Register
          </button>
        </form>
      )}
      <ErrorBox error={register.error} />
    </div>
  );
}

/** The method's defaults, or {} when its schema needs a value without one. */
function methodDefaults(methodId: string): Record<string, unknown> {
  const p = getMethod(methodId)?.params.safeParse({});
  return p?.success ? (p.data as Record<string, unknown>) : {};
}

/**
 * A run's parameters. An executed run stores every parameter it ran with: those the submission left
 * out are marked "default". A logged run stores exactly what its script sent, nothing filled in.
 */
function ParamsTable({ run }: { run: RunDetail }) {
  const entries = Object.entries(run.params);
  if (entries.length === 0) return <p className="muted small">{run.source === "logged" ? "No parameters were logged." : "None."}</p>;
  const defaults = run.source === "executed" ? methodDefaults(run.methodId) : {};
  return (
    <>
      <table className="kv" data-testid="params">
        <tbody>
          {entries.map(([k, v]) => (
            <tr key={k}>
              <th>{k}</th>
              <td>
                <code>{JSON.stringify(v)}</code>
                {k in defaults && JSON.stringify(defaults[k]) === JSON.stringify(v) ? <span className="muted small"> default</span> : null}
              </td>
            </tr>
          ))}
        </tbody>
      </table>
      {run.source === "logged" ? <p className="muted small">As logged: defaults are not filled in for runs executed elsewhere.</p> : null}
    </>
  );
}

function Json({ value }: { value: Record<string, unknown> | null | undefined }) {
  if (!value || Object.keys(value).length === 0) return <span className="muted">—</span>;
  return (
    <table className="kv">
      <tbody>
        {Object.entries(value).map(([k, v]) => (
          <tr key={k}>
            <th>{k}</th>
            <td>{typeof v === "object" && v !== null ? <code>{JSON.stringify(v)}</code> : String(v)}</td>
          </tr>
        ))}
      </tbody>
    </table>
  );
}

export function RunDetailView({ id }: { id: number }) {
  const run = useRun(id);
  const baseline = useRun(run.data?.baselineRunId ?? 0, Boolean(run.data?.baselineRunId));
  if (run.isLoading) return <Loading what={`run #${id}`} />;
  if (run.error || !run.data) return <ErrorBox error={run.error ?? new Error(`run #${id} not found`)} />;
  const r = run.data;
  const baseMetrics = new Map((r.baselineRunId && baseline.data ? baseline.data.metrics : []).map((m) => [m.key, m.value]));
  // Interval bounds are shown beside their metric ("12.3 ms [11.9, 12.8]"), not as rows of their own.
  const byKey = Object.fromEntries(r.metrics.map((m) => [m.key, m.value]));
  const shown = r.metrics.filter((m) => !(/_(lo|hi)$/.test(m.key) && byKey[m.key.replace(/_(lo|hi)$/, "")] !== undefined));
  return (
    <div className="run-detail">
      <div className="toolbar">
        <h1>
          Run #{r.id} <span className="muted">{r.methodId}</span>
        </h1>
        <StatusBadge status={r.status} />
        {isActive(r.status) && (
          <span className="stage">
            {r.stage ?? "waiting"} <ProgressBar value={r.progress} /> {r.progress !== null ? `${Math.round(r.progress * 100)}%` : ""}
          </span>
        )}
        <span className="spacer" />
        <RunActions id={r.id} status={r.status} />
      </div>
      {r.error && <div className="errorbox">{r.error}</div>}
      <div className="grid2">
        <div className="card">
          <h2>Run</h2>
          <table className="kv">
            <tbody>
              <KvRow label="Method">
                {r.methodId} ({r.family})
              </KvRow>
              <KvRow label="Model">{r.modelId}</KvRow>
              <KvRow label="Dataset">{r.datasetId}</KvRow>
              <KvRow label="Runtime">{r.runtime}</KvRow>
              <KvRow label="Experiment">
                {r.experimentId ? (
                  <Link href={`/experiments/${r.experimentId}`}>#{r.experimentId}</Link>
                ) : (
                  <span className="muted">{r.source === "logged" ? "logged from outside" : "—"}</span>
                )}
              </KvRow>
              <KvRow label="Baseline">
                {r.baselineRunId ? (
                  <Link href={`/runs/${r.baselineRunId}`} data-testid="baseline-link">
                    run #{r.baselineRunId}
                  </Link>
                ) : (
                  <span className="muted">{r.methodId === "baseline" ? "this run is a baseline" : "none recorded"}</span>
                )}
              </KvRow>
              <KvRow label="Attempts">
                {r.attempts} of {r.maxAttempts}
              </KvRow>
              <KvRow label="Seed">{r.seed ?? "—"}</KvRow>
              <KvRow label="Code version">{r.codeVersion ?? "—"}</KvRow>
              <KvRow label="Created">{formatTime(r.createdAt)}</KvRow>
              <KvRow label="Started">{formatTime(r.startedAt)}</KvRow>
              <KvRow label="Finished">{formatTime(r.finishedAt)}</KvRow>
            </tbody>
          </table>
          <h2>Parameters</h2>
          <ParamsTable run={r} />
        </div>
        <div className="card">
          <h2>Metrics {r.baselineRunId ? <span className="muted small">(Δ vs baseline #{r.baselineRunId})</span> : null}</h2>
          {r.metrics.length === 0 ? (
            <p className="muted">{isActive(r.status) ? "Metrics appear when the run finishes." : "No metrics recorded."}</p>
          ) : (
            <table className="kv metrics" data-testid="metrics">
              <tbody>
                {shown.map((m) => {
                  const ci = metricInterval(byKey, m.key);
                  return (
                    <tr key={m.key}>
                      <th title={m.known ? undefined : "not a Frontier metric key: direction assumed higher-is-better"}>
                        {metricLabel(m.key)}
                        {!m.known && " *"}
                      </th>
                      <td className="num">
                        {formatMetric(m.key, m.value)}
                        {ci && (
                          <span className="muted small" title="95% interval">
                            {" "}
                            [{formatMetric(m.key, ci.lo)}, {formatMetric(m.key, ci.hi)}]
                          </span>
                        )}
                        {m.key === "speedup" && ci && (
                          <div
                            className={`small ${speedupVerdict(ci.lo, ci.hi) === "faster" ? "good" : speedupVerdict(ci.lo, ci.hi) === "slower" ? "bad" : "muted"}`}
                            data-testid="speedup-verdict"
                          >
                            {speedupVerdict(ci.lo, ci.hi)}
                          </div>
                        )}
                      </td>
                      <td className="num muted">{baseMetrics.has(m.key) ? formatMetric(m.key, baseMetrics.get(m.key)) : ""}</td>
                      <td>
                        <Delta k={m.key} v={m.value} base={baseMetrics.get(m.key)} />
                      </td>
                    </tr>
                  );
                })}
              </tbody>
            </table>
          )}
          <h2>Hardware</h2>
          <p className="muted small">{r.hardwareKey ?? "not recorded"}</p>
          <Json value={r.hardware} />
        </div>
      </div>
      <Series run={r} />
      <div className="grid2">
        <div className="card">
          <h2>Status history</h2>
          {r.statusHistory.length === 0 ? (
            <p className="muted">No transitions recorded.</p>
          ) : (
            <ol className="history">
              {r.statusHistory.map((e) => (
                <li key={e.id}>
                  <span className="muted">{formatTime(e.ts)}</span> {e.message}
                </li>
              ))}
            </ol>
          )}
          <h2>Artifacts</h2>
          {r.artifacts.length === 0 ? (
            <p className="muted">None.</p>
          ) : (
            <table>
              <thead>
                <tr>
                  <th>Kind</th>
                  <th>File</th>
                  <th className="num">Size</th>
                  <th>SHA-256</th>
                </tr>
              </thead>
              <tbody>
                {r.artifacts.map((a) => (
                  <tr key={a.id}>
                    <td>{a.kind}</td>
                    <td className="ellipsis" title={a.name}>
                      {a.downloadUrl ? (
                        <a href={a.downloadUrl} download data-testid={`artifact-${a.kind}`}>
                          {a.name}
                        </a>
                      ) : (
                        <span title="written by a worker on another machine: not on this server">{a.name}</span>
                      )}
                    </td>
                    <td className="num">{formatMetric("model_bytes", a.bytes)}</td>
                    <td>
                      <code title={a.sha256 ?? ""}>{a.sha256?.slice(0, 12) ?? "—"}</code>
                    </td>
                  </tr>
                ))}
              </tbody>
            </table>
          )}
          {r.status === "succeeded" && r.artifacts.some((a) => a.kind === "model" && a.downloadUrl) ? (
            <>
              <GgufDownloads runId={r.id} />
              <RegisterAsModel run={r} />
            </>
          ) : null}
        </div>
        <Annotations key={r.id} run={r} />
      </div>
      <Logs run={r} />
    </div>
  );
}
