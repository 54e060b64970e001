"use client";

import { useMutation, useQueryClient } from "@tanstack/react-query";
import { api, type DatasetInfo, type MethodInfo, type ModelInfo } from "@/lib/api-client";
import { getMethod } from "@/lib/methods";
import { qk } from "@/lib/query-keys";
import type { RuntimeName } from "@/lib/schemas/workers";
import { useDatasets, useMethods, useModels, useWorkers } from "./queries";
import { ErrorBox } from "./ui";

export const DEMO_MODEL = "zoo-base";

/** The zoo datasets the demo evaluates on: those the model card names, else the ones named zoo-*. */
function demoDatasets(model: ModelInfo, datasets: DatasetInfo[]): DatasetInfo[] {
  const named = model.card?.datasets;
  if (Array.isArray(named)) {
    const ids = new Set(named.map((d) => (typeof d === "string" ? d : (d as { id?: string })?.id)).filter(Boolean));
    const hit = datasets.filter((d) => ids.has(d.id));
    if (hit.length > 0) return hit;
  }
  return datasets.filter((d) => d.id.startsWith("zoo"));
}

/**
 * The demo sweep: the baseline plus every implemented quantization method over its bit widths, on
 * each zoo dataset. Each method is one experiment (one method + grid), all submitted for real.
 */
export function demoExperiments(model: ModelInfo, datasets: DatasetInfo[], methods: MethodInfo[], runtime: RuntimeName) {
  const out: Parameters<typeof api.createExperiment>[0][] = [];
  for (const d of demoDatasets(model, datasets)) {
    out.push({ name: `Demo: baseline on ${d.id}`, modelId: model.id, datasetId: d.id, runtime, methodId: "baseline", grid: {} });
    for (const m of methods) {
      if (m.family !== "quantization" || !m.implemented) continue;
      const def = getMethod(m.id);
      const hasBits = def && "bits" in def.params.shape;
      out.push({
        name: `Demo: ${m.label} on ${d.id}`,
        description: "Submitted by the first-run demo button.",
        modelId: model.id,
        datasetId: d.id,
        runtime,
        methodId: m.id,
        grid: hasBits ? { bits: [8, 4, 3, 2] } : {},
      });
    }
  }
  return out;
}

export function FirstRun() {
  const models = useModels();
  const datasets = useDatasets();
  const methods = useMethods();
  const workers = useWorkers();
  const qc = useQueryClient();
  const model = models.data?.find((m) => m.id === DEMO_MODEL);
  const runtimes = new Set((workers.data ?? []).flatMap((w) => w.runtimes));
  const runtime = (runtimes.has("cpu") || runtimes.size === 0 ? "cpu" : [...runtimes][0]) as RuntimeName;
  const plan = model && datasets.data && methods.data ? demoExperiments(model, datasets.data, methods.data, runtime) : [];
  const submit = useMutation({
    mutationFn: async () => {
      for (const e of plan) await api.createExperiment(e);
    },
    onSettled: () =>
      Promise.all([qc.invalidateQueries({ queryKey: qk.runs.all }), qc.invalidateQueries({ queryKey: qk.experiments.all }), qc.invalidateQueries({ queryKey: qk.pareto.all })]),
  });
  const loading = models.isLoading || datasets.isLoading || methods.isLoading;
  let missing: string | null = null;
  if (!loading) {
    if (!model) missing = `The zoo model "${DEMO_MODEL}" is not registered: run npm run zoo:train, then npm start registers it.`;
    else if (plan.length === 0) missing = `No dataset of the zoo is registered for ${DEMO_MODEL}.`;
  }
  const runCount = plan.reduce((n, e) => n + Object.values(e.grid ?? {}).reduce((p, v) => p * v.length, 1), 0);
  return (
    <div className="card first-run" data-testid="first-run">
      <h1>Frontier</h1>
      <p>
        Frontier runs model-compression methods (quantization, pruning, token compression, speculative decoding) on real ONNX models and records
        quality, latency and memory for every run. It draws each method family&apos;s accuracy-vs-latency and accuracy-vs-memory Pareto front, so you
        see which compression is worth its cost.
      </p>
      {missing ? (
        <button type="button" disabled data-testid="demo-button">
          {missing}
        </button>
      ) : (
        <button type="button" onClick={() => submit.mutate()} disabled={loading || submit.isPending || submit.isSuccess} data-testid="demo-button">
          {submit.isSuccess
            ? "Demo submitted — the fronts appear as runs finish"
            : `Run a demo sweep on ${DEMO_MODEL} (${runCount} runs${runtimes.size === 0 ? "; no worker is registered yet" : ""})`}
        </button>
      )}
      <ErrorBox error={submit.error} />
    </div>
  );
}
