import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type ApiServer, startApiServer } from "../helpers/api-server";
import { ENROLL, metricValues, runRow, startWorker, until, type WorkerProc, postJson, registerZooModel, registerZooSlice } from "../worker/fixtures";

let api: ApiServer;
let worker: WorkerProc | null = null;

beforeAll(async () => {
  api = await startApiServer({ env: { FRONTIER_ENROLL_TOKEN: ENROLL } });
  registerZooModel(api, "zoo-small");
  registerZooSlice(api, "recall-small", "recall-test", "recall", 12);
});
afterAll(async () => {
  await worker?.stop();
  await api?.close();
});

const post = (p: string, body: unknown) => postJson(api, p, body);

describe("KV-budget sweep through the API and a worker", () => {
  it("runs tokens.h2o at budgets {8, 24} and charts quality against the cache held", async () => {
    const r = await post("/api/v1/experiments", {
      modelId: "zoo-small",
      datasetId: "recall-small",
      runtime: "cpu",
      seed: 1,
      name: "h2o budgets",
      methodId: "tokens.h2o",
      grid: { budget: [8, 24] },
    });
    expect(r.status, JSON.stringify(r.json)).toBe(201);
    const ids: number[] = r.json.runIds;
    expect(ids).toHaveLength(2);
    worker = startWorker(api, "tokens", ["--bench-repeats", "2"]);
    await until("both sweep runs finished", () => ids.every((id) => ["succeeded", "failed"].includes(runRow(api, id).status)), 120_000);
    const byRun = ids.map((id) => {
      expect(runRow(api, id), `run ${id}: ${runRow(api, id).error}`).toMatchObject({ status: "succeeded" });
      return metricValues(api, id);
    });
    for (const m of byRun) {
      expect(m.exact_match).toBeGreaterThanOrEqual(0);
      expect(m.kept_token_ratio).toBeGreaterThan(0);
      expect(m.decode_ms_per_token).toBeGreaterThan(0);
    }
    // the smaller budget holds the smaller cache and keeps fewer entries
    expect(byRun[0].kv_cache_bytes).toBeLessThan(byRun[1].kv_cache_bytes);
    expect(byRun[0].kept_token_ratio).toBeLessThan(byRun[1].kept_token_ratio);
    for (const x of ["kv_cache_bytes", "kept_token_ratio"]) {
      const res = await fetch(`${api.url}/api/v1/pareto?x=${x}&y=exact_match&group=param.budget&experiment=${r.json.id}`);
      expect(res.status).toBe(200);
      expect((await res.json()).total).toBe(2);
    }
  }, 150_000);
});
