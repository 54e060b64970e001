"use client";

import { useRouter } from "next/navigation";
import { useMemo, useState } from "react";
import { ApiError, type JsonSchema, type MethodInfo } from "@/lib/api-client";
import { FAMILIES, getMethod } from "@/lib/methods";
import { MAX_GRID_POINTS } from "@/lib/schemas/experiments";
import { RUNTIMES, type Runtime } from "@/lib/domain";
import { describeMethod } from "@/lib/schemas/methods";
import { checkGrid, controlFor, entryValues, formField, gridSize, type Entry } from "./grid-form";
import { useCreateExperiment, useDatasets, useMethods, useModels, useWorkers } from "./queries";
import { ErrorBox, Loading } from "./ui";

function FieldError({ errors, name }: { errors: Record<string, string>; name: string }) {
  return errors[name] ? (
    <span className="error" role="alert" data-field-error={name}>
      {errors[name]}
    </span>
  ) : null;
}

export function SubmissionForm() {
  const router = useRouter();
  const methods = useMethods();
  const models = useModels();
  const datasets = useDatasets();
  const workers = useWorkers();
  const create = useCreateExperiment();

  const [name, setName] = useState("");
  const [description, setDescription] = useState("");
  const [modelId, setModelId] = useState("");
  const [datasetId, setDatasetId] = useState("");
  const [runtime, setRuntime] = useState<string>("");
  const [methodId, setMethodId] = useState("baseline");
  const [entries, setEntries] = useState<Record<string, Entry>>({});
  const [serverErrors, setServerErrors] = useState<Record<string, string>>({});
  const [touched, setTouched] = useState(false);

  const offered = useMemo(() => {
    const set = new Set((workers.data ?? []).flatMap((w) => w.runtimes));
    return RUNTIMES.filter((r) => set.has(r));
  }, [workers.data]);
  const runtimeOptions: readonly Runtime[] = offered.length > 0 ? offered : RUNTIMES;
  const effectiveRuntime = ((runtimeOptions as readonly string[]).includes(runtime) ? runtime : runtimeOptions[0]) as Runtime;
  // A trained model by default: shape models (random weights) sort first by id but measure speed only.
  const effectiveModel = modelId || (models.data?.find((m) => m.source !== "shape" && m.card?.shapeOnly !== true) ?? models.data?.[0])?.id || "";
  const effectiveDataset = datasetId || datasets.data?.[0]?.id || "";
  const chosenModel = models.data?.find((m) => m.id === effectiveModel);
  // Shape models (random weights) accept any dataset: it names the comparison context, nothing scores it.
  const shapeOnly = chosenModel?.source === "shape" || chosenModel?.card?.shapeOnly === true;

  const info: MethodInfo | undefined = methods.data?.find((m) => m.id === methodId);
  const def = getMethod(methodId);
  // Parameter schemas come from the method registry, as GET /api/v1/methods serves them.
  const props = useMemo(() => ((def ? (describeMethod(def).params as JsonSchema).properties : undefined) ?? {}) as Record<string, JsonSchema>, [def]);

  // Client validation with the API's own grid checks (lib/grid.ts) against the registry's zod schema.
  const { grid, errors, points } = useMemo(() => {
    const grid: Record<string, unknown[]> = {};
    const errors: Record<string, string> = {};
    for (const [key, schema] of Object.entries(props)) {
      const r = entryValues(controlFor(schema), entries[key]);
      if ("error" in r) {
        errors[`param:${key}`] = r.error;
        continue;
      }
      if (r.values.length > 0) grid[key] = r.values;
    }
    const points = gridSize(grid);
    // The first issue per field, as the server would answer it ("grid.bits[2]" shows under bits).
    if (def) for (const d of checkGrid(def, grid)) errors[formField(d.field)] ??= d.message;
    if (!effectiveModel) errors.modelId = "register a model first (POST /api/v1/models, or npm run zoo:train)";
    if (!effectiveDataset) errors.datasetId = "register a dataset first (POST /api/v1/datasets)";
    if (info && !info.implemented) errors.methodId = `${info.label} is not implemented yet`;
    return { grid, errors, points };
  }, [props, entries, def, effectiveModel, effectiveDataset, info]);

  const shownErrors = { ...(touched ? errors : pickParamErrors(errors)), ...serverErrors };
  const autoName = `${info?.label ?? methodId} on ${effectiveModel || "?"} / ${effectiveDataset || "?"}`;

  const submit = (e: React.FormEvent) => {
    e.preventDefault();
    setTouched(true);
    setServerErrors({});
    if (Object.keys(errors).length > 0) return;
    create.mutate(
      {
        name: name.trim() || autoName,
        ...(description.trim() ? { description: description.trim() } : {}),
        modelId: effectiveModel,
        datasetId: effectiveDataset,
        runtime: effectiveRuntime,
        methodId,
        grid,
      },
      {
        onSuccess: (r) => router.push(`/experiments/${r.id}`),
        onError: (err) => {
          if (err instanceof ApiError && err.details.length > 0) {
            const mapped: Record<string, string> = {};
            for (const d of err.details) mapped[formField(d.field)] ??= d.message;
            setServerErrors(mapped);
          }
        },
      },
    );
  };

  if (methods.isLoading || models.isLoading || datasets.isLoading) return <Loading what="the method registry" />;
  const byFamily = FAMILIES.map((f) => ({ family: f, methods: (methods.data ?? []).filter((m) => m.family === f) }));

  return (
    <form className="card submission" onSubmit={submit} noValidate data-testid="submission-form">
      <h1>New experiment</h1>
      <ErrorBox error={methods.error ?? models.error ?? datasets.error} />
      <div className="form-grid">
        <label className="field">
          <span>Name</span>
          <input aria-label="Name" value={name} placeholder={autoName} onChange={(e) => setName(e.target.value)} maxLength={200} />
          <FieldError errors={shownErrors} name="name" />
        </label>
        <label className="field">
          <span>Description</span>
          <input aria-label="Description" value={description} onChange={(e) => setDescription(e.target.value)} maxLength={5000} />
        </label>
        <label className="field">
          <span>Model</span>
          <select aria-label="Model" value={effectiveModel} onChange={(e) => setModelId(e.target.value)}>
            {(models.data ?? []).map((m) => (
              <option key={m.id} value={m.id}>
                {m.id}{" "}
                {m.params
                  ? `(${(m.params / 1e6).toFixed(2)}M params${m.source === "shape" || m.card?.shapeOnly === true ? ", random weights: speed and memory only" : ""})`
                  : ""}
              </option>
            ))}
          </select>
          {shapeOnly && (
            <span className="note" data-testid="shape-model-note">
              {effectiveModel} has random weights ({String(chosenModel?.card?.description ?? "a realistic size")}): runs report latency and memory only, no
              quality metric. The worker generates it on first use. Calibrated methods (GPTQ, AWQ, SmoothQuant) refuse it.
            </span>
          )}
          <FieldError errors={shownErrors} name="modelId" />
        </label>
        <label className="field">
          <span>Dataset{shapeOnly ? " (not scored for a shape model: it only names the comparison context)" : ""}</span>
          <select aria-label="Dataset" value={effectiveDataset} onChange={(e) => setDatasetId(e.target.value)}>
            {(datasets.data ?? []).map((d) => (
              <option key={d.id} value={d.id}>
                {d.id} ({d.task})
              </option>
            ))}
          </select>
          <FieldError errors={shownErrors} name="datasetId" />
        </label>
        <label className="field">
          <span>Runtime</span>
          <select aria-label="Runtime" value={effectiveRuntime} onChange={(e) => setRuntime(e.target.value)}>
            {runtimeOptions.map((r) => (
              <option key={r}>{r}</option>
            ))}
          </select>
          {workers.data && offered.length === 0 && (
            <span className="note" data-testid="no-worker-note">
              No registered worker offers a runtime yet: runs wait in the queue until one registers (npm start launches a local CPU worker).
            </span>
          )}
          <FieldError errors={shownErrors} name="runtime" />
        </label>
        <label className="field">
          <span>Method</span>
          <select
            aria-label="Method"
            value={methodId}
            onChange={(e) => {
              setMethodId(e.target.value);
              setEntries({});
              setServerErrors({});
            }}
          >
            {byFamily.map((g) =>
              g.methods.length === 0 ? null : (
                <optgroup key={g.family} label={g.family}>
                  {g.methods.map((m) => (
                    <option key={m.id} value={m.id} disabled={!m.implemented}>
                      {m.label} ({m.id}){m.implemented ? "" : " — not implemented yet"}
                    </option>
                  ))}
                </optgroup>
              ),
            )}
          </select>
          <FieldError errors={shownErrors} name="methodId" />
        </label>
      </div>
      {info && (
        <p className="muted method-summary">
          {info.summary}
          {info.paper && (
            <>
              {" "}
              Paper:{" "}
              <a href={info.paper.arxiv ? `https://arxiv.org/abs/${info.paper.arxiv}` : info.paper.url} target="_blank" rel="noreferrer">
                {info.paper.title}
              </a>
            </>
          )}
        </p>
      )}
      <h2>Parameters</h2>
      {Object.keys(props).length === 0 ? (
        <p className="muted">This method has no parameters.</p>
      ) : (
        <div className="params">
          {Object.entries(props).map(([key, schema]) => {
            const control = controlFor(schema);
            const entry = entries[key];
            const set = (en: Entry) => {
              setEntries((all) => ({ ...all, [key]: en }));
              setServerErrors(({ [`param:${key}`]: _drop, ...rest }) => rest);
            };
            return (
              <div key={key} className="param" data-param={key}>
                <div className="param-head">
                  <code>{key}</code>
                  {schema.description && <span className="muted small"> {schema.description}</span>}
                </div>
                {control.kind === "choice" ? (
                  <div className="choices">
                    {control.options.map((o) => {
                      const chosen = entry && "chosen" in entry ? entry.chosen : [];
                      const on = chosen.some((c) => c === o.value);
                      return (
                        <label key={o.label} className="choice">
                          <input
                            type="checkbox"
                            aria-label={`${key} ${o.label}`}
                            checked={on}
                            onChange={() => set({ chosen: on ? chosen.filter((c) => c !== o.value) : [...chosen, o.value] })}
                          />{" "}
                          {o.label}
                          {schema.default === o.value && <span className="muted small"> (default)</span>}
                        </label>
                      );
                    })}
                  </div>
                ) : (
                  <input
                    aria-label={key}
                    className="param-input"
                    value={entry && "text" in entry ? entry.text : ""}
                    placeholder={`default ${JSON.stringify(schema.default ?? null)}${control.kind === "number" ? " · comma-separated values" : control.kind === "list" ? " · a,b; c (';' separates sweep points)" : " · comma-separated"}`}
                    onChange={(e) => set({ text: e.target.value })}
                  />
                )}
                {control.kind === "number" && (control.min !== undefined || control.max !== undefined) && (
                  <span className="muted small bounds">
                    {control.integer ? "integer " : ""}
                    {control.min ?? "−∞"} … {control.max ?? "∞"}
                  </span>
                )}
                <FieldError errors={shownErrors} name={`param:${key}`} />
              </div>
            );
          })}
        </div>
      )}
      <div className="submit-row">
        <span data-testid="grid-count" className={points > MAX_GRID_POINTS ? "error" : ""}>
          This grid expands to <b>{points}</b> run{points === 1 ? "" : "s"}
          {Object.keys(grid).length < Object.keys(props).length ? " (unlisted parameters take their defaults)" : ""}.
        </span>
        <FieldError errors={shownErrors} name="grid" />
        <span className="spacer" />
        <button type="submit" disabled={create.isPending}>
          {create.isPending ? "Submitting…" : `Submit ${points} run${points === 1 ? "" : "s"}`}
        </button>
      </div>
      {create.error && !(create.error instanceof ApiError && create.error.details.length > 0) && <ErrorBox error={create.error} />}
      {serverErrors["(form)"] && <div className="errorbox">{serverErrors["(form)"]}</div>}
    </form>
  );
}

/** Before the first submit only the params' own messages show (as the user types), not "pick a model". */
function pickParamErrors(errors: Record<string, string>): Record<string, string> {
  return Object.fromEntries(Object.entries(errors).filter(([k]) => k.startsWith("param:") || k === "grid"));
}
