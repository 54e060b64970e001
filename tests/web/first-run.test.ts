import { describe, expect, it } from "vitest";
import { demoExperiments, demoShapeExperiments } from "@/components/first-run";
import type { DatasetRow, MethodInfo, ModelRow } from "@/lib/api-client";
import { METHODS } from "@/lib/methods";

const ds = (id: string, task: DatasetRow["task"], split: string): DatasetRow => ({
  id,
  name: id,
  task,
  file: `${id}.jsonl`,
  sha256: null,
  size: 1,
  split,
  description: null,
  createdAt: 0,
});
const datasets = [
  ds("arithmetic-test", "exact-match", "test"),
  ds("grammar-validation", "perplexity", "validation"),
  ds("grammar-test", "perplexity", "test"),
  ds("grammar-mc-test", "multiple-choice", "test"),
  ds("recall-test", "recall", "test"),
  ds("copy-test", "exact-match", "test"),
  ds("mine", "perplexity", "test"),
];
const score = (k: string, v: number) => ({ test: { [k]: v } });
// zoo-base's card: recall solved (1.00), arithmetic near the floor, copy just below perfect
const model = {
  id: "zoo-base",
  card: {
    scores: {
      grammar: { test: { perplexity: 9.56 } },
      "grammar-mc": score("accuracy", 0.525),
      recall: score("exact_match", 1),
      arithmetic: score("exact_match", 0.06),
      copy: score("exact_match", 0.995),
    },
  },
} as unknown as ModelRow;
const methods = METHODS.map((m) => ({ id: m.id, family: m.family, label: m.label, implemented: m.implemented })) as MethodInfo[];

describe("first-run demo sweep", () => {
  const plan = demoExperiments(model, datasets, methods, "cpu");

  it("runs the baseline and every implemented quantization and pruning method on the text set and the scored set with headroom", () => {
    // copy (0.995) and not recall (1.00 for every method) or arithmetic (0.06): compression has something to lose
    expect([...new Set(plan.map((e) => e.datasetId))]).toEqual(["grammar-test", "copy-test"]);
    const methodsRun = METHODS.filter((m) => (m.family === "quantization" || m.family === "pruning") && m.implemented).map((m) => m.id);
    expect(methodsRun.some((id) => id.startsWith("prune."))).toBe(true);
    for (const d of ["grammar-test", "copy-test"]) {
      expect(plan.filter((e) => e.datasetId === d).map((e) => e.methodId)).toEqual(["baseline", ...methodsRun]);
    }
    expect(plan.every((e) => e.modelId === "zoo-base" && e.runtime === "cpu")).toBe(true);
  });

  it("sweeps RTN over every width and only grids that each method's schema accepts", () => {
    const rtn = plan.find((e) => e.methodId === "quant.rtn");
    if (rtn) expect(rtn.grid).toEqual({ bits: [8, 4, 3, 2] });
    for (const e of plan) {
      const def = METHODS.find((m) => m.id === e.methodId)!;
      for (const [k, values] of Object.entries(e.grid ?? {}))
        for (const v of values) expect(def.params.safeParse({ [k]: v }).success, `${e.methodId} ${k}=${v}`).toBe(true);
    }
    expect(plan.find((e) => e.methodId === "prune.magnitude")?.grid).toEqual({ sparsity: [0.3, 0.5, 0.7] });
  });

  it("never plans an unimplemented method", () => {
    const unimplemented = new Set(METHODS.filter((m) => !m.implemented).map((m) => m.id));
    expect(plan.some((e) => unimplemented.has(e.methodId))).toBe(false);
  });
});

describe("first-run demo on the shape model", () => {
  const shape = { id: "shape-125m", source: "shape", card: { shapeOnly: true } } as unknown as ModelRow;
  const plan = demoShapeExperiments(shape, "grammar-test", "cpu");

  it("runs the baseline, RTN 4-bit at groups 32 and 128 and RTN 8-bit on one dataset, so all four runs share one baseline", () => {
    expect(plan.map((e) => [e.methodId, e.grid])).toEqual([
      ["baseline", {}],
      ["quant.rtn", { bits: [4], group_size: [32, 128] }],
      ["quant.rtn", { bits: [8], group_size: [128], accuracy_level: [4] }],
    ]);
    expect(plan.every((e) => e.modelId === "shape-125m" && e.datasetId === "grammar-test" && e.runtime === "cpu")).toBe(true);
    const rtn = METHODS.find((m) => m.id === "quant.rtn")!;
    for (const e of plan.slice(1))
      for (const [k, values] of Object.entries(e.grid ?? {})) for (const v of values) expect(rtn.params.safeParse({ [k]: v }).success).toBe(true);
  });
});
