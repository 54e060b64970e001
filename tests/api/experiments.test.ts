import fs from "node:fs";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { getDb } from "@/db/client";
import { expandGrid } from "@/lib/grid";
import { getMethod, METHODS } from "@/lib/methods";
import { POST as postModel } from "@/app/api/v1/models/route";
import { POST as postDataset } from "@/app/api/v1/datasets/route";
import { GET as listExperiments, POST as postExperiment } from "@/app/api/v1/experiments/route";
import { GET as getExperiment } from "@/app/api/v1/experiments/[id]/route";
import { GET as listRuns } from "@/app/api/v1/runs/route";
import { call, cleanup, fields, freshDb, snapshot, writeModelDir } from "./helpers";

let dir: string;
const base = { name: "sweep", modelId: "m", datasetId: "d", runtime: "cpu" };
// Which methods have executors changes as they land: pick them from the registry, not by name.
const unimplemented = METHODS.find((m) => !m.implemented);
const rtn = getMethod("quant.rtn")!;

beforeAll(async () => {
  dir = freshDb();
  expect((await call(postModel, "POST", "/api/v1/models", { body: { id: "m", path: writeModelDir(dir, "m") } })).status).toBe(201);
  const f = path.join(dir, "d.jsonl");
  fs.writeFileSync(f, JSON.stringify({ text: "abc" }) + "\n");
  expect((await call(postDataset, "POST", "/api/v1/datasets", { body: { id: "d", task: "perplexity", path: f } })).status).toBe(201);
});
afterAll(() => cleanup(dir));

describe("grid expansion", () => {
  it("expands the cartesian product and fills defaults", () => {
    const { points, details } = expandGrid(rtn, { bits: [2, 4, 8], group_size: [0, 128], symmetric: [true] });
    expect(details).toEqual([]);
    expect(points).toHaveLength(6);
    expect(points[0]).toEqual({ ...rtn.params.parse({}), bits: 2, group_size: 0, symmetric: true });
    const combos = new Set(points.map((p) => `${p.bits}/${p.group_size}`));
    expect(combos.size).toBe(6);
  });

  it("names each bad value by index and each unknown param", () => {
    const { details } = expandGrid(getMethod("quant.rtn")!, { bits: [4, 5, "8"], damp: [0.1] });
    expect(details.map((d) => d.field).sort()).toEqual(["grid.bits[1]", "grid.bits[2]", "grid.damp"]);
  });

  it("refuses a value repeated in one parameter's list", () => {
    const { details } = expandGrid(getMethod("quant.rtn")!, { bits: [4, 8, 4], keep_layers: [["a"], ["a"]] });
    expect(details).toEqual([
      { field: "grid.bits[2]", message: "repeats grid.bits[0]" },
      { field: "grid.keep_layers[1]", message: "repeats grid.keep_layers[0]" },
    ]);
  });
});

describe("POST /api/v1/experiments", () => {
  it("queues one run per grid point and answers 201 {id, runIds}", async () => {
    const r = await call(postExperiment, "POST", "/api/v1/experiments", { body: { ...base, methodId: "baseline", description: "ref" } });
    expect(r.status).toBe(201);
    expect(r.json.runIds).toHaveLength(1);
    const run = getDb().$client.prepare("SELECT * FROM runs WHERE id = ?").get(r.json.runIds[0]) as Record<string, unknown>;
    expect(run).toMatchObject({ experiment_id: r.json.id, method_id: "baseline", family: "baseline", status: "queued", runtime: "cpu", params: "{}" });
    const detail = await call(getExperiment, "GET", `/api/v1/experiments/${r.json.id}`, { params: { id: String(r.json.id) } });
    expect(detail.status).toBe(200);
    expect(detail.json.experiment).toMatchObject({ id: r.json.id, name: "sweep", description: "ref", runCount: 1, statusCounts: { queued: 1 } });
    expect(detail.json.runs.map((x: { id: number }) => x.id)).toEqual(r.json.runIds);
    const list = await call(listExperiments, "GET", "/api/v1/experiments");
    expect(list.json.experiments[0]).toMatchObject({ id: r.json.id, runCount: 1, statusCounts: { queued: 1 } });
    const runs = await call(listRuns, "GET", `/api/v1/runs?experiment=${r.json.id}&experiment=99999`);
    expect(runs.json.runs.map((x: { id: number }) => x.id)).toEqual(r.json.runIds);
    expect(runs.json.total).toBe(1);
  });

  const cases: [string, Record<string, unknown>, string[], RegExp?][] = [
    ["an unknown param for the method", { methodId: "baseline", grid: { bits: [4] } }, ["grid.bits"], /unknown parameter/],
    ["an out-of-range value", { methodId: rtn.id, grid: { bits: [4, 5] } }, rtn.implemented ? ["grid.bits[1]"] : ["grid.bits[1]", "methodId"]],
    ["an unknown method", { methodId: "quant.magic" }, ["methodId"]],
    ["an unknown model and dataset", { methodId: "baseline", modelId: "nope", datasetId: "nada" }, ["datasetId", "modelId"]],
    ["an unknown runtime", { methodId: "baseline", runtime: "tpu" }, ["runtime"]],
    ["an empty value list", { methodId: "baseline", grid: { x: [] } }, ["grid.x"]],
    ["a wrong type", { methodId: "baseline", name: 7 }, ["name"]],
  ];
  it.each(cases)("refuses %s with a 400 naming the field and writes nothing", async (_w, patch, expected, message) => {
    const before = snapshot();
    const r = await call(postExperiment, "POST", "/api/v1/experiments", { body: { ...base, ...patch } });
    expect(r.status).toBe(400);
    expect([...new Set(fields(r.json))].sort()).toEqual(expected.sort());
    if (message) expect(JSON.stringify(r.json.details)).toMatch(message);
    expect(snapshot()).toEqual(before);
  });

  it.skipIf(!unimplemented)("refuses a method without an executor", async () => {
    const before = snapshot();
    const r = await call(postExperiment, "POST", "/api/v1/experiments", { body: { ...base, methodId: unimplemented!.id } });
    expect(r.status).toBe(400);
    expect(fields(r.json)).toEqual(["methodId"]);
    expect(r.json.details[0].message).toMatch(/no executor yet/);
    expect(snapshot()).toEqual(before);
  });

  it.skipIf(!rtn.implemented)("queues the whole cartesian grid of a method with params", async () => {
    const r = await call(postExperiment, "POST", "/api/v1/experiments", {
      body: { ...base, methodId: rtn.id, grid: { bits: [2, 4, 8], symmetric: [true, false] } },
    });
    expect(r.status).toBe(201);
    expect(r.json.runIds).toHaveLength(6);
    const d = await call(getExperiment, "GET", "/x", { params: { id: String(r.json.id) } });
    const points = d.json.runs.map((x: { params: { bits: number; symmetric: boolean } }) => `${x.params.bits}/${x.params.symmetric}`);
    expect(points.sort()).toEqual(["2/false", "2/true", "4/false", "4/true", "8/false", "8/true"]);
    expect(d.json.runs[0].params).toMatchObject({ group_size: 32, format: "auto" });
    expect(d.json.experiment).toMatchObject({ family: "quantization", runCount: 6, statusCounts: { queued: 6 } });
  });

  it("refuses a grid of more than 1000 points", async () => {
    const gptq = getMethod("quant.gptq")!;
    const grid = { calib_samples: Array.from({ length: 50 }, (_, i) => i + 1), block_size: Array.from({ length: 21 }, (_, i) => i + 8) };
    const before = snapshot();
    const r = await call(postExperiment, "POST", "/api/v1/experiments", { body: { ...base, methodId: gptq.id, grid } });
    expect(r.status).toBe(400);
    expect(r.json.details.find((d: { field: string }) => d.field === "grid").message).toMatch(/1050 points/);
    expect(snapshot()).toEqual(before);
  });

  it("answers 400 on malformed JSON and 404/400 on bad ids", async () => {
    expect((await call(postExperiment, "POST", "/api/v1/experiments", { raw: "[1," })).status).toBe(400);
    expect((await call(getExperiment, "GET", "/api/v1/experiments/999", { params: { id: "999" } })).status).toBe(404);
    const r = await call(getExperiment, "GET", "/api/v1/experiments/x", { params: { id: "1.5" } });
    expect(r.status).toBe(400);
    expect(fields(r.json)).toEqual(["id"]);
  });
});
