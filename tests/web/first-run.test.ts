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
  ds("mine", "perplexity", "test"),
];
const model = { id: "zoo-base", card: { scores: { grammar: {}, "grammar-mc": {}, recall: {}, arithmetic: {} } } } as unknown as ModelRow;
const methods = METHODS.map((m) => ({ id: m.id, family: m.family, label: m.label, implemented: m.implemented })) as MethodInfo[];

describe("first-run demo sweep", () => {
  const plan = demoExperiments(model, datasets, methods, "cpu");

  it("runs the baseline and every implemented quantization method on two scored test splits", () => {
    expect([...new Set(plan.map((e) => e.datasetId))]).toEqual(["grammar-test", "recall-test"]);
    const quant = METHODS.filter((m) => m.family === "quantization" && m.implemented).map((m) => m.id);
    for (const d of ["grammar-test", "recall-test"]) {
      expect(plan.filter((e) => e.datasetId === d).map((e) => e.methodId)).toEqual(["baseline", ...quant]);
    }
    expect(plan.every((e) => e.modelId === "zoo-base" && e.runtime === "cpu")).toBe(true);
  });

  it("sweeps RTN over every width and only grids that each method's schema accepts", () => {
    const rtn = plan.find((e) => e.methodId === "quant.rtn");
    if (rtn) expect(rtn.grid).toEqual({ bits: [8, 4, 3, 2] });
    for (const e of plan) {
      const def = METHODS.find((m) => m.id === e.methodId)!;
      for (const [k, values] of Object.entries(e.grid ?? {})) for (const v of values) expect(def.params.safeParse({ [k]: v }).success).toBe(true);
    }
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
