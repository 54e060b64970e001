/**
 * A quantization sweep submitted like a user would: POST /api/v1/experiments over bits x group
 * size for RTN and GPTQ, executed by a real worker process (workers/main.ts) against the real route
 * handlers, and every run then visible on GET /api/v1/pareto.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startApiServer, type ApiServer } from "../helpers/api-server";
import { ENROLL, registerTinyModel, runRow, startWorker, until, type WorkerProc, postJson } from "../worker/fixtures";

let api: ApiServer;
let worker: WorkerProc | null = null;

beforeAll(async () => {
  api = await startApiServer({ env: { FRONTIER_ENROLL_TOKEN: ENROLL } });
  registerTinyModel(api);
});
afterAll(async () => {
  await worker?.stop();
  await api?.close();
});

const post = (p: string, body: unknown) => postJson(api, p, body);

describe("quantization sweep through the API and a worker", () => {
  it("runs RTN and GPTQ over bits x group size and lands every run on the Pareto endpoint", async () => {
    const common = { modelId: "tiny", datasetId: "tiny-text", runtime: "cpu", seed: 1 };
    const rtn = await post("/api/v1/experiments", { ...common, name: "rtn sweep", methodId: "quant.rtn", grid: { bits: [4, 8], group_size: [0, 32] } });
    expect(rtn.status).toBe(201);
    const gptq = await post("/api/v1/experiments", {
      ...common,
      name: "gptq sweep",
      methodId: "quant.gptq",
      grid: { bits: [3, 4], group_size: [32], calib_samples: [2] },
    });
    expect(gptq.status).toBe(201);
    const ids: number[] = [...rtn.json.runIds, ...gptq.json.runIds];
    expect(ids).toHaveLength(6);

    worker = startWorker(api, "quant", ["--bench-repeats", "2"]);
    await until("all sweep runs finished", () => ids.every((id) => ["succeeded", "failed"].includes(runRow(api, id).status)), 150_000);
    for (const id of ids) expect(runRow(api, id), `run ${id}: ${runRow(api, id).error}`).toMatchObject({ status: "succeeded" });

    const r = await fetch(`${api.url}/api/v1/pareto?x=bits_effective&y=perplexity&group=method&experiment=${rtn.json.id}&experiment=${gptq.json.id}`);
    expect(r.status).toBe(200);
    const pareto = await r.json();
    expect(pareto.total).toBe(6);
    expect(pareto.groups.map((g: { key: string }) => g.key).sort()).toEqual(["quant.gptq", "quant.rtn"]);
    const onFront = pareto.groups.flatMap((g: { front: { runId: number }[] }) => g.front.map((p) => p.runId));
    const dominated = pareto.dominated.map((p: { runId: number }) => p.runId);
    expect([...onFront, ...dominated].sort((a, b) => a - b)).toEqual([...ids].sort((a, b) => a - b));
    // each group has a front; which points are on it depends on this random-weight model (3-bit codes
    // sit in 4-bit containers, so GPTQ 3 and 4 bits store the same bytes and the lower perplexity wins)
    for (const g of pareto.groups as { front: unknown[] }[]) expect(g.front.length).toBeGreaterThan(0);
  }, 200_000);
});
