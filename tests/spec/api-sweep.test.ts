import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type ApiServer, startApiServer } from "../helpers/api-server";
import { ENROLL, metricValues, runRow, startWorker, until, type WorkerProc, postJson, registerZooModel, registerZooSlice } from "../worker/fixtures";
import { ZOO } from "./helpers";

let api: ApiServer;
let worker: WorkerProc | null = null;

beforeAll(async () => {
  api = await startApiServer({ env: { FRONTIER_ENROLL_TOKEN: ENROLL } });
  for (const id of ["zoo-base", "zoo-draft"]) registerZooModel(api, id);
  registerZooSlice(api, "copy-small", "copy-test", "exact-match", 30);
});
afterAll(async () => {
  await worker?.stop();
  await api?.close();
});

const post = (p: string, body: unknown, token?: string) => postJson(api, p, body, token);

const common = { modelId: "zoo-base", datasetId: "copy-small", runtime: "cpu", seed: 1 };

describe("speculative decoding through the API and a worker", () => {
  it("refuses a draft_model that is not registered, naming it", async () => {
    const r = await post("/api/v1/experiments", {
      ...common,
      name: "bad draft",
      methodId: "spec.draft",
      grid: { draft_model: ["zoo-draft", "no-such-model"] },
    });
    expect(r.status).toBe(400);
    expect(JSON.stringify(r.json)).toMatch(/unknown model \\"no-such-model\\" named in the params/);
    expect(JSON.stringify(r.json)).not.toMatch(/"zoo-draft\\"/);
  });

  it("sends a spec.draft run's draft model with the lease, files resolved like the target's", async () => {
    const d = await post("/api/v1/experiments", { ...common, name: "draft", methodId: "spec.draft", grid: { draft_model: ["zoo-draft"], gamma: [2] } });
    expect(d.status, JSON.stringify(d.json)).toBe(201);
    const hardware = {
      cpu: {
        runtime: "cpu",
        ortVersion: "onnxruntime-node@1.30.0",
        cpuModel: "test cpu",
        cpuCores: 2,
        memoryBytes: 24e9,
        platform: "linux-x64",
        nodeVersion: "v20.20.0",
      },
    };
    const reg = await post("/api/v1/workers/register", { name: "lessee", capabilities: { runtimes: ["cpu"] }, hardware }, ENROLL);
    expect(reg.status, JSON.stringify(reg.json)).toBe(201);
    const lease = await post("/api/v1/workers/lease", {}, reg.json.token);
    expect(lease.status).toBe(200);
    expect(lease.json.run.runId).toBe(d.json.runIds[0]);
    expect(lease.json.run.model.id).toBe("zoo-base");
    expect(lease.json.run.models).toHaveLength(1);
    expect(lease.json.run.models[0]).toMatchObject({ id: "zoo-draft", kind: "decoder-lm", files: { dir: path.join(ZOO, "zoo-draft"), model: "model.onnx" } });
    // Leased here, so the worker below never gets it.
  });

  it("runs a prompt-lookup gamma sweep {1, 4} on a worker and records acceptance and speedup", async () => {
    const r = await post("/api/v1/experiments", { ...common, name: "lookup sweep", methodId: "spec.prompt-lookup", grid: { gamma: [1, 4] } });
    expect(r.status, JSON.stringify(r.json)).toBe(201);
    const ids: number[] = r.json.runIds;
    expect(ids).toHaveLength(2);
    worker = startWorker(api, "spec", ["--bench-repeats", "2"]);
    await until("both sweep runs finished", () => ids.every((id) => ["succeeded", "failed"].includes(runRow(api, id).status)), 150_000);
    for (const id of ids) {
      expect(runRow(api, id), `run ${id}: ${runRow(api, id).error}`).toMatchObject({ status: "succeeded" });
      const m = metricValues(api, id);
      expect(m.acceptance_rate).toBeGreaterThan(0);
      expect(m.speedup).toBeGreaterThan(0);
      expect(m.mean_accepted_tokens).toBeGreaterThanOrEqual(1);
      expect(m.output_matches_target).toBe(1);
      expect(m.exact_match).toBeGreaterThanOrEqual(0);
      expect(m.draft_cost_ratio).toBeGreaterThan(0);
      expect(m.predicted_speedup).toBeGreaterThan(0);
    }
    // The explorer's data: speedup and tokens/s against quality, one group per gamma.
    for (const x of ["speedup", "tokens_per_s"]) {
      const res = await fetch(`${api.url}/api/v1/pareto?x=${x}&y=exact_match&group=param.gamma&experiment=${r.json.id}`);
      expect(res.status).toBe(200);
      const pareto = await res.json();
      expect(pareto.total).toBe(2);
      expect(pareto.groups.map((g: { key: string }) => g.key).join(" ")).toMatch(/1.*4|4.*1/);
    }
  }, 200_000);
});
