/**
 * A pruning sweep submitted like a user would: POST /api/v1/experiments over sparsity {0.3, 0.5,
 * 0.7} for magnitude, Wanda and SparseGPT, one structured and one layer-drop run, executed by a real worker
 * process, every run on GET /api/v1/pareto; then a SparseGPT 50% model registered as a base model
 * (POST /api/v1/models with fromRun) and quantized to 4 bits, as the SparseGPT paper combines them.
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
const get = async (path: string) => (await fetch(`${api.url}${path}`)).json();
const finished = (ids: number[]) => () => ids.every((id) => ["succeeded", "failed"].includes(runRow(api, id).status));

describe("pruning sweep through the API and a worker", () => {
  it("runs every pruning method, lands the runs on the Pareto endpoint, and quantizes a registered SparseGPT model", async () => {
    const common = { modelId: "tiny", datasetId: "tiny-text", runtime: "cpu", seed: 1 };
    const ids: Record<string, number[]> = {};
    const experiments: number[] = [];
    for (const [methodId, grid] of [
      ["prune.magnitude", { sparsity: [0.3, 0.5, 0.7] }],
      ["prune.wanda", { sparsity: [0.3, 0.5, 0.7], calib_samples: [2] }],
      ["prune.sparsegpt", { sparsity: [0.3, 0.5, 0.7], calib_samples: [2] }],
      ["prune.structured", { ratio: [0.3], calib_samples: [2] }],
      ["prune.layer-drop", { layers: [1], calib_samples: [2] }],
    ] as const) {
      const r = await post("/api/v1/experiments", { ...common, name: `${methodId} sweep`, methodId, grid });
      expect(r.status, JSON.stringify(r.json)).toBe(201);
      ids[methodId] = r.json.runIds;
      experiments.push(r.json.id);
    }
    const all = Object.values(ids).flat();
    expect(all).toHaveLength(11);

    worker = startWorker(api, "prune", ["--bench-repeats", "2"]);
    await until("all sweep runs finished", finished(all), 240_000);
    for (const id of all) expect(runRow(api, id), `run ${id}: ${runRow(api, id).error}`).toMatchObject({ status: "succeeded" });

    // every run has its sparsity or size metric and lands on the fronts (quality vs size and vs decode time)
    const q = experiments.map((e) => `experiment=${e}`).join("&");
    const pareto = await get(`/api/v1/pareto?x=model_bytes,decode_ms_per_token&y=perplexity&group=method&${q}`);
    for (const chart of pareto.charts) {
      expect(chart.total).toBe(11);
      expect(chart.groups.map((g: { key: string }) => g.key).sort()).toEqual([
        "prune.layer-drop",
        "prune.magnitude",
        "prune.sparsegpt",
        "prune.structured",
        "prune.wanda",
      ]);
    }
    // each unstructured sweep reaches its three sparsities on the saved weights
    const sparsityOf = async (id: number) => (await get(`/api/v1/runs/${id}`)).metrics.find((m: { key: string }) => m.key === "sparsity")?.value;
    for (const m of ["prune.magnitude", "prune.wanda", "prune.sparsegpt"]) {
      const got = await Promise.all(ids[m].map(sparsityOf));
      expect(got.map((v) => Math.round(v * 10) / 10).sort(), m).toEqual([0.3, 0.5, 0.7]);
    }
    const sgpt50 = (await Promise.all(ids["prune.sparsegpt"].map(async (id) => [id, await sparsityOf(id)] as const))).find(
      ([, v]) => Math.abs(v - 0.5) < 0.01,
    )![0];
    const detail = await get(`/api/v1/runs/${sgpt50}`);
    // structured pruning and layer drop shrink the stored model; unstructured zeros do not
    const bytes = (id: number) =>
      runRow(api, id) && get(`/api/v1/runs/${id}`).then((d) => d.metrics.find((m: { key: string }) => m.key === "model_bytes").value);
    const dense = await bytes(ids["prune.magnitude"][0]);
    expect(await bytes(ids["prune.structured"][0])).toBeLessThan(dense);
    expect(await bytes(ids["prune.layer-drop"][0])).toBeLessThan(dense);

    // its model file downloads from the run page's link; no server path is shown
    const art = detail.artifacts.find((a: { kind: string }) => a.kind === "model");
    expect(art).toMatchObject({ name: "model.onnx", downloadUrl: `/api/v1/runs/${sgpt50}/artifacts/${art.id}` });
    expect(JSON.stringify(detail.artifacts)).not.toContain(api.dir);
    const dl = await fetch(`${api.url}${art.downloadUrl}`);
    expect(dl.status).toBe(200);
    expect(dl.headers.get("content-disposition")).toBe(`attachment; filename="run-${sgpt50}-model.onnx"`);
    expect((await dl.arrayBuffer()).byteLength).toBe(art.bytes);
    expect((await fetch(`${api.url}/api/v1/runs/${sgpt50}/artifacts/999999`)).status).toBe(404);

    // the SparseGPT 50% model as a base model, then RTN 4-bit on it
    const reg = await post("/api/v1/models", { id: "tiny-sgpt50", fromRun: sgpt50 });
    expect(reg.status, JSON.stringify(reg.json)).toBe(201);
    expect(reg.json.card.derived_from).toMatchObject({ run: sgpt50, method: "prune.sparsegpt", model: "tiny" });
    expect(JSON.stringify(reg.json)).not.toContain(api.dir); // no server path in the answer
    const again = await post("/api/v1/models", { id: "tiny-bad", fromRun: 999_999 });
    expect(again.status).toBe(400);
    expect(again.json.details).toContainEqual({ field: "fromRun", message: "run 999999 does not exist" });

    const quant = await post("/api/v1/experiments", { ...common, modelId: "tiny-sgpt50", name: "sgpt50 + rtn4", methodId: "quant.rtn", grid: { bits: [4] } });
    expect(quant.status, JSON.stringify(quant.json)).toBe(201);
    await until("the quantization of the pruned model finished", finished(quant.json.runIds), 120_000);
    const qrun = runRow(api, quant.json.runIds[0]);
    expect(qrun, qrun.error ?? "").toMatchObject({ status: "succeeded", modelId: "tiny-sgpt50" });
    const qd = await get(`/api/v1/runs/${qrun.id}`);
    expect(qd.metrics.find((m: { key: string }) => m.key === "bits_effective").value).toBeLessThan(6);
    expect(Number.isFinite(qd.metrics.find((m: { key: string }) => m.key === "perplexity").value)).toBe(true);
  }, 420_000);
});
