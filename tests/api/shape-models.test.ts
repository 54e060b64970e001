import fs from "node:fs";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { getDb } from "@/db/client";
import { registerShapeModels } from "@/db/queries/shape-models";
import { POST as postDataset } from "@/app/api/v1/datasets/route";
import { POST as postExperiment } from "@/app/api/v1/experiments/route";
import { GET as listModels, POST as postModel } from "@/app/api/v1/models/route";
import { GET as getPareto } from "@/app/api/v1/pareto/route";
import { POST as postRun } from "@/app/api/v1/runs/route";
import { REGISTERED_SHAPE_MODELS, shapeModelRegistration } from "@/workers/onnx/shape-cache";
import { GENERATOR_VERSION } from "@/workers/onnx/shapes";
import { call, cleanup, freshDb, writeModelDir } from "./helpers";

let dir: string;
const HW = { runtime: "cpu", ortVersion: "1.30.0", cpuModel: "test CPU", cpuCores: 2, memoryBytes: 8e9, platform: "linux-x64", nodeVersion: "v20" };
const register = () =>
  registerShapeModels(
    REGISTERED_SHAPE_MODELS.map((n) => shapeModelRegistration(n)),
    getDb(),
  );

beforeAll(async () => {
  dir = freshDb();
  const f = path.join(dir, "d.jsonl");
  fs.writeFileSync(f, JSON.stringify({ text: "abc" }) + "\n");
  expect((await call(postDataset, "POST", "/api/v1/datasets", { body: { id: "d", task: "perplexity", path: f } })).status).toBe(201);
});
afterAll(() => cleanup(dir));

describe("shape models through the API", () => {
  it("are registered on start (idempotent) and listed by GET /api/v1/models as shape-only, without files on the server", async () => {
    expect(register()).toBe(2);
    expect(register()).toBe(2);
    const r = await call(listModels, "GET", "/api/v1/models");
    expect(r.status).toBe(200);
    const shapes = r.json.models.filter((m: { source: string }) => m.source === "shape");
    expect(shapes.map((m: { id: string }) => m.id)).toEqual(["shape-125m", "shape-1b"]);
    const m = shapes[0];
    expect(m).toMatchObject({
      kind: "decoder-lm",
      sha256: null,
      bytes: null,
      card: { shapeOnly: true, shape: "shape-125m", seed: 0, generator: GENERATOR_VERSION },
    });
    expect(m.params).toBeGreaterThan(120e6);
    expect(m.files.dir).toBeUndefined();
    expect(shapes[1].params).toBeGreaterThan(1.09e9);
  });

  it("leave a model of the same id from another source alone", async () => {
    const other = "shape-other";
    expect((await call(postModel, "POST", "/api/v1/models", { body: { id: other, path: writeModelDir(dir, other) } })).status).toBe(201);
    expect(registerShapeModels([{ ...shapeModelRegistration("shape-tiny"), id: other as "shape-tiny" }], getDb())).toBe(0);
    const r = await call(listModels, "GET", "/api/v1/models");
    expect(r.json.models.find((m: { id: string }) => m.id === other).source).toBe("path");
  });

  it("take experiments on any registered dataset (POST /api/v1/experiments with modelId shape-125m)", async () => {
    const r = await call(postExperiment, "POST", "/api/v1/experiments", {
      body: { name: "speed", modelId: "shape-125m", datasetId: "d", runtime: "cpu", methodId: "quant.rtn", grid: { bits: [4, 8], group_size: [32, 128] } },
    });
    expect(r.status).toBe(201);
    expect(r.json.runIds).toHaveLength(4);
    const runs = getDb().$client.prepare("SELECT model_id, status FROM runs WHERE experiment_id = ?").all(r.json.id);
    expect(runs).toEqual(Array(4).fill({ model_id: "shape-125m", status: "queued" }));
  });
});

describe("calibrated methods on a shape model", () => {
  it("are refused at submission, naming the reason", async () => {
    const r = await call(postExperiment, "POST", "/api/v1/experiments", {
      body: { name: "gptq", modelId: "shape-125m", datasetId: "d", runtime: "cpu", methodId: "quant.gptq", grid: { bits: [4] } },
    });
    expect(r.status).toBe(400);
    expect(r.json.details).toContainEqual({
      field: "methodId",
      message: "quant.gptq calibrates on text, and shape-125m has random weights (speed and memory only): use a trained model",
    });
  });
});

describe("GET /api/v1/pareto interval bounds", () => {
  const log = async (methodId: string, params: Record<string, unknown>, metrics: Record<string, number>) => {
    const r = await call(postRun, "POST", "/api/v1/runs", {
      body: { methodId, params, modelId: "shape-125m", datasetId: "d", runtime: "cpu", hardware: HW, metrics },
    });
    expect(r.status, r.text).toBe(201);
    return r.json.id as number;
  };
  const iv = (key: string, v: number, w: number) => ({ [key]: v, [`${key}_lo`]: v - w, [`${key}_hi`]: v + w });

  beforeAll(async () => {
    await log("baseline", {}, { ...iv("decode_ms_per_token", 20, 0.5), ...iv("prefill_ms", 300, 10), model_bytes: 495e6, perplexity: 9 });
    await log("quant.rtn", { bits: 8 }, { ...iv("decode_ms_per_token", 12, 0.4), ...iv("prefill_ms", 250, 8), model_bytes: 160e6, perplexity: 9.1 });
    await log("quant.rtn", { bits: 4 }, { ...iv("decode_ms_per_token", 8, 0.3), ...iv("prefill_ms", 240, 9), model_bytes: 100e6, perplexity: 9.5 });
    // dominated in both charts: slower and bigger than 4-bit
    await log(
      "quant.rtn",
      { bits: 4, group_size: 128 },
      { ...iv("decode_ms_per_token", 9, 0.3), ...iv("prefill_ms", 260, 9), model_bytes: 110e6, perplexity: 9.6 },
    );
    // logged without intervals
    await log("quant.rtn", { bits: 3 }, { decode_ms_per_token: 10, prefill_ms: 270, model_bytes: 90e6, perplexity: 11 });
  });

  it("carries the 95% bounds of x and y on front and dominated points when those metrics have them", async () => {
    const r = await call(getPareto, "GET", "/api/v1/pareto?x=prefill_ms,model_bytes&y=decode_ms_per_token&group=method");
    expect(r.status).toBe(200);
    const [lat, mem] = r.json.charts;
    const rtn = lat.groups.find((g: { key: string }) => g.key === "quant.rtn");
    expect(rtn.front).toHaveLength(1);
    expect(rtn.front[0]).toMatchObject({ params: { bits: 4 }, x: 240, xLo: 231, xHi: 249, y: 8, yLo: 7.7, yHi: 8.3 });
    // the dominated sample is columnar: bound columns hold null for a run without bounds
    expect(lat.dominated.xLo).toHaveLength(lat.dominated.runId.length);
    expect(lat.dominated.yHi).toHaveLength(lat.dominated.runId.length);
    const i128 = lat.dominated.y.indexOf(9);
    expect(i128).toBeGreaterThanOrEqual(0);
    expect([lat.dominated.xLo[i128], lat.dominated.xHi[i128], lat.dominated.yLo[i128], lat.dominated.yHi[i128]]).toEqual([251, 269, 8.7, 9.3]);
    const i3 = lat.dominated.y.indexOf(10);
    expect([lat.dominated.xLo[i3], lat.dominated.yHi[i3]]).toEqual([null, null]);
    // model_bytes has no interval: only y bounds in the memory chart
    const memPts = mem.groups.flatMap((g: { front: object[] }) => g.front);
    expect(memPts.every((p: object) => !("xLo" in p))).toBe(true);
    // the 3-bit run (logged without intervals) is on this front too, without bounds
    const quant = mem.groups.find((g: { key: string }) => g.key === "quant.rtn").front;
    expect(quant.map((p: { params: { bits: number }; yLo?: number }) => [p.params.bits, p.yLo])).toEqual([
      [3, undefined],
      [4, 7.7],
    ]);
    expect(mem.dominated.xLo).toBeUndefined();
  });

  it("adds nothing to the answer for metrics without intervals", async () => {
    const r = await call(getPareto, "GET", "/api/v1/pareto?x=model_bytes,latency_ms_p50&y=perplexity");
    expect(r.status).toBe(200);
    expect(r.text).not.toMatch(/"(xLo|xHi|yLo|yHi)"/);
    const single = await call(getPareto, "GET", "/api/v1/pareto?x=prefill_ms&y=perplexity&group=method");
    const front = single.json.groups.flatMap((g: { front: object[] }) => g.front);
    expect(front.some((p: { xLo?: number }) => p.xLo !== undefined)).toBe(true);
    expect(front.every((p: object) => !("yLo" in p))).toBe(true);
  });
});
