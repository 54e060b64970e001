"use client";

import { useMutation, useQueryClient } from "@tanstack/react-query";
import { api, type DatasetRow, type MethodInfo, type ModelRow } from "@/lib/api-client";
import { getMethod } from "@/lib/methods";
import { qk } from "@/lib/query-keys";
import type { DatasetTask, Runtime } from "@/lib/domain";
import { useDatasets, useMethods, useModels, useWorkers } from "./queries";
import { ErrorBox } from "./ui";

export const DEMO_MODEL = "zoo-base";
/** The speed half of the demo: a zoo decode step is far under a millisecond, so its latency is mostly overhead. */
export const DEMO_SHAPE_MODEL = "shape-125m";

// After the perplexity set, the task where the base model leaves least room at either end: a
// generation set it nearly solves (copy, 0.995 on zoo-base) shows what compression costs, where
// recall (1.00 for every method tried) and multiple choice (near chance) show nothing.
const TASK_ORDER: readonly DatasetTask[] = ["perplexity", "exact-match", "recall", "multiple-choice"];
/** Datasets per demo: enough for two fronts, few enough that the sweep finishes while you watch. */
const DEMO_DATASETS = 2;

/** The base model's card score on a dataset family's test split (its primary metric), when the card has one. */
function cardScore(model: ModelRow, family: string): number | null {
  const scores = model.card?.scores as Record<string, { test?: Record<string, number> }> | undefined;
  const test = scores?.[family]?.test;
  if (!test) return null;
  const v = test.exact_match ?? test.accuracy;
  return typeof v === "number" ? v : null;
}

/**
 * The zoo datasets the demo evaluates on: the test splits the model card scored (its `scores` are
 * keyed by dataset family, e.g. grammar -> grammar-test), else any registered test split; a
 * perplexity set first, then the scored set of another task whose base score is highest below a
 * perfect 1.0 (so compression has something to lose), else one by task order.
 */
function demoDatasets(model: ModelRow, datasets: DatasetRow[]): DatasetRow[] {
  const scores = model.card?.scores;
  const scored = scores && typeof scores === "object" ? Object.keys(scores).map((k) => `${k}-test`) : [];
  let pool = datasets.filter((d) => scored.includes(d.id));
  if (pool.length === 0) pool = datasets.filter((d) => d.split === "test");
  const picked: DatasetRow[] = [];
  const text = pool.find((x) => x.task === "perplexity");
  if (text) picked.push(text);
  const headroom = pool
    .filter((d) => d.task !== "perplexity")
    .map((d) => ({ d, score: cardScore(model, d.id.replace(/-test$/, "")) }))
    .filter((x): x is { d: DatasetRow; score: number } => x.score !== null && x.score < 1 && x.score >= 0.5)
    .sort((a, b) => b.score - a.score)[0]?.d;
  if (headroom && picked.length < DEMO_DATASETS) picked.push(headroom);
  for (const task of TASK_ORDER) {
    const d = pool.find((x) => x.task === task && !picked.includes(x));
    if (d && picked.length < DEMO_DATASETS) picked.push(d);
  }
  return picked;
}

/** Each pruning method's demo grid: magnitude over three sparsities, the calibrated ones at 50% unstructured and 2:4. */
const PRUNING_DEMO_GRID: Readonly<Record<string, Record<string, (number | string)[]>>> = {
  "prune.magnitude": { sparsity: [0.3, 0.5, 0.7] },
  "prune.wanda": { sparsity: [0.5], pattern: ["unstructured", "2:4"] },
  "prune.sparsegpt": { sparsity: [0.5], pattern: ["unstructured", "2:4"] },
  "prune.structured": { ratio: [0.1, 0.3] },
  "prune.layer-drop": { layers: [1] },
};

/**
 * A method's demo grid, or null when the demo leaves it out: RTN sweeps every width, the slower
 * calibrated quantizers take the two most telling ones, pruning methods their PRUNING_DEMO_GRID.
 */
function demoGrid(m: MethodInfo): Record<string, (number | string)[]> | null {
  if (m.family === "pruning") return PRUNING_DEMO_GRID[m.id] ?? null;
  if (m.family !== "quantization") return null;
  const hasBits = "bits" in (getMethod(m.id)?.params.shape ?? {});
  return hasBits ? { bits: m.id === "quant.rtn" ? [8, 4, 3, 2] : [4, 3] } : {};
}

/**
 * The demo sweep: the baseline, every implemented quantization method over bit widths and every
 * implemented pruning method over a few sparsities, on the demo datasets. Each method is one experiment (one method + grid), all submitted for real.
 */
export function demoExperiments(model: ModelRow, datasets: DatasetRow[], methods: MethodInfo[], runtime: Runtime) {
  const out: Parameters<typeof api.createExperiment>[0][] = [];
  for (const d of demoDatasets(model, datasets)) {
    out.push({ name: `Demo: baseline on ${d.id}`, modelId: model.id, datasetId: d.id, runtime, methodId: "baseline", grid: {} });
    for (const m of methods) {
      const grid = m.implemented ? demoGrid(m) : null;
      if (!grid) continue;
      out.push({
        name: `Demo: ${m.label} on ${d.id}`,
        description: "Submitted by the first-run demo button.",
        modelId: model.id,
        datasetId: d.id,
        runtime,
        methodId: m.id,
        grid,
      });
    }
  }
  return out;
}

/**
 * The speed-and-memory sweep on the shape model (random weights at GPT-2-small size, where weight
 * bytes dominate a decode step): the baseline, weight-only RTN 4-bit with groups of 32 and 128, and
 * RTN 8-bit (group 128) with the kernel's int8 activations (accuracy_level 4), named as such: 8-bit
 * with float activations runs far slower than float32 on cpu, and one such run took over 8 minutes
 * of the 2-core machine (its baseline and itself, 17 interleaved requests each) where the other
 * runs take one to three. It runs on the first demo dataset only, so all its runs share one
 * baseline; a shape model reports no quality, so the dataset is not scored.
 */
export function demoShapeExperiments(shape: ModelRow, datasetId: string, runtime: Runtime): Parameters<typeof api.createExperiment>[0][] {
  const base = { modelId: shape.id, datasetId, runtime, description: "Submitted by the first-run demo button: speed and memory only (random weights)." };
  return [
    { ...base, name: `Demo: baseline on ${shape.id}`, methodId: "baseline", grid: {} },
    { ...base, name: `Demo: RTN 4-bit on ${shape.id}`, methodId: "quant.rtn", grid: { bits: [4], group_size: [32, 128] } },
    {
      ...base,
      name: `Demo: RTN 8-bit, int8 activations in the kernel, on ${shape.id}`,
      methodId: "quant.rtn",
      grid: { bits: [8], group_size: [128], accuracy_level: [4] },
    },
  ];
}

/** The long-context model and the set of the first-run KV-budget sweep (zoo-long, docs/zoo.md). */
export const DEMO_LONG_MODEL = "zoo-long";
export const DEMO_LONG_DATASET = "mqar-1024-test";

/**
 * A small KV-budget sweep on zoo-long's 1024-token multi-query recall: SnapKV and H2O at 64 and 256
 * cache entries (6% and 25% of the prompt), StreamingLLM at the same budgets; each run also decodes
 * the dense cache for its quality and speed comparison.
 */
export function demoTokenExperiments(
  models: ModelRow[],
  datasets: DatasetRow[],
  methods: MethodInfo[],
  runtime: Runtime,
): Parameters<typeof api.createExperiment>[0][] {
  if (!models.some((m) => m.id === DEMO_LONG_MODEL) || !datasets.some((d) => d.id === DEMO_LONG_DATASET)) return [];
  const on = (id: string) => methods.some((m) => m.id === id && m.implemented);
  const base = { modelId: DEMO_LONG_MODEL, datasetId: DEMO_LONG_DATASET, runtime, description: "Submitted by the first-run demo button: KV-cache budgets." };
  const out: Parameters<typeof api.createExperiment>[0][] = [];
  if (on("tokens.snapkv")) out.push({ ...base, name: `Demo: SnapKV budgets on ${DEMO_LONG_MODEL}`, methodId: "tokens.snapkv", grid: { budget: [64, 256] } });
  if (on("tokens.h2o")) out.push({ ...base, name: `Demo: H2O budgets on ${DEMO_LONG_MODEL}`, methodId: "tokens.h2o", grid: { budget: [64, 256] } });
  if (on("tokens.streaming-llm"))
    out.push({
      ...base,
      name: `Demo: StreamingLLM windows on ${DEMO_LONG_MODEL}`,
      methodId: "tokens.streaming-llm",
      grid: { sink_tokens: [4], window: [60, 252] },
    });
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
  const runtime = (runtimes.has("cpu") || runtimes.size === 0 ? "cpu" : [...runtimes][0]) as Runtime;
  const shape = models.data?.find((m) => m.id === DEMO_SHAPE_MODEL);
  const zooPlan = model && datasets.data && methods.data ? demoExperiments(model, datasets.data, methods.data, runtime) : [];
  const withShape = zooPlan.length > 0 && shape ? [...zooPlan, ...demoShapeExperiments(shape, zooPlan[0].datasetId, runtime)] : zooPlan;
  const plan =
    zooPlan.length > 0 && models.data && datasets.data && methods.data
      ? [...withShape, ...demoTokenExperiments(models.data, datasets.data, methods.data, runtime)]
      : withShape;
  const submit = useMutation({
    mutationFn: async () => {
      for (const e of plan) await api.createExperiment(e);
    },
    onSettled: () =>
      Promise.all([
        qc.invalidateQueries({ queryKey: qk.runs.all }),
        qc.invalidateQueries({ queryKey: qk.experiments.all }),
        qc.invalidateQueries({ queryKey: qk.pareto.all }),
      ]),
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
        Frontier runs model-compression methods (quantization, pruning, token compression, speculative decoding) on real ONNX models and records quality,
        latency and memory for every run. It draws each method family&apos;s accuracy-vs-latency and accuracy-vs-memory Pareto front, so you see which
        compression is worth its cost.
      </p>
      {missing ? (
        <button type="button" disabled data-testid="demo-button">
          {missing}
        </button>
      ) : (
        <button type="button" onClick={() => submit.mutate()} disabled={loading || submit.isPending || submit.isSuccess} data-testid="demo-button">
          {submit.isSuccess
            ? "Demo submitted — the fronts appear as runs finish"
            : `Run a demo sweep on ${DEMO_MODEL}${shape ? ` and ${DEMO_SHAPE_MODEL}` : ""} (${runCount} runs${runtimes.size === 0 ? "; no worker is registered yet" : ""})`}
        </button>
      )}
      <ErrorBox error={submit.error} />
    </div>
  );
}
