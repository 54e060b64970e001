import fs from "node:fs";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { GET as getGguf } from "@/app/api/v1/runs/[id]/gguf/route";
import { POST as postRun } from "@/app/api/v1/runs/route";
import { getDb } from "@/db/client";
import { artifacts } from "@/db/schema/artifacts";
import { GGUF_TYPES as SCHEMA_TYPES } from "@/lib/schemas/gguf";
import { GGUF_TYPES, readGgufHeader } from "@/workers/export/gguf";
import { call, cleanup, freshDb, loggedRun } from "../api/helpers";

let dir: string;
let withModel: number;
let remote: number;
let none: number;

beforeAll(async () => {
  dir = freshDb();
  // a run's artifact directory as a worker leaves it: the model with its config and tokenizer
  const modelDir = path.join(dir, "run-model");
  fs.mkdirSync(modelDir);
  for (const f of ["model.onnx", "config.json", "tokenizer.json"]) fs.copyFileSync(path.join("zoo/zoo-base", f), path.join(modelDir, f));
  const log = async () => (await call(postRun, "POST", "/api/v1/runs", { body: loggedRun({ id: "baseline", params: {} }, "cpu") })).json.id as number;
  withModel = await log();
  remote = await log();
  none = await log();
  getDb()
    .insert(artifacts)
    .values([
      { runId: withModel, kind: "model", path: path.join(modelDir, "model.onnx") },
      { runId: remote, kind: "model", path: "/elsewhere/model.onnx" },
    ])
    .run();
});
afterAll(() => cleanup(dir));

const get = (id: number, query = "") => call(getGguf, "GET", `/api/v1/runs/${id}/gguf${query}`, { params: { id: String(id) } });

describe("GET /api/v1/runs/:id/gguf", () => {
  it("lists which GGUF types are exact for the run's model, with the reason for the others", async () => {
    const r = await get(withModel);
    expect(r.status).toBe(200);
    const byType = Object.fromEntries(r.json.types.map((t: { type: string }) => [t.type, t]));
    expect(byType.f32).toMatchObject({ exact: true, url: `/api/v1/runs/${withModel}/gguf?type=f32` });
    expect(byType.f16.exact).toBe(true);
    expect(byType.q4_0).toMatchObject({ exact: false, url: null });
    expect(byType.q4_0.reason).toMatch(/weights are float32/);
  });

  it("streams the GGUF file of an exact type and answers 422 with the reason otherwise", async () => {
    const res = await getGguf(new Request(`http://localhost/api/v1/runs/${withModel}/gguf?type=f32`), { params: Promise.resolve({ id: String(withModel) }) });
    expect(res.status).toBe(200);
    expect(res.headers.get("content-disposition")).toBe(`attachment; filename="run-${withModel}-f32.gguf"`);
    const bytes = new Uint8Array(await res.arrayBuffer());
    expect(bytes.length).toBe(Number(res.headers.get("content-length")));
    const header = readGgufHeader(bytes);
    expect(header.metadata.get("general.architecture")).toBe("llama");
    expect(header.metadata.get("general.name")).toBe(`frontier-run-${withModel}`);
    const q = await get(withModel, "?type=q4_0");
    expect(q.status).toBe(422);
    expect(q.json.error).toMatch(/cannot be exported as Q4_0: the weights are float32/);
  });

  it("accepts exactly the types the exporter writes", () => {
    expect([...SCHEMA_TYPES]).toEqual([...GGUF_TYPES]);
  });

  it("names a bad type, a run without a model and a model on another machine", async () => {
    const bad = await get(withModel, "?type=q5_k");
    expect(bad.status).toBe(400);
    expect(bad.text).toMatch(/type/);
    expect((await get(none, "?type=f32")).status).toBe(404);
    const far = await get(remote, "?type=f32");
    expect(far.status).toBe(404);
    expect(far.text).toMatch(/another machine/);
    expect((await get(999999)).status).toBe(404);
  });
});
