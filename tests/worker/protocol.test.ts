import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { eq } from "drizzle-orm";
import { startApiServer, type ApiServer } from "../helpers/api-server";
import { artifacts, datasets, models, runEvents, runMetrics, runs, workers } from "../../db/schema";
import { hardwareKey } from "../../lib/hardware";
import type { HardwareFingerprint } from "../../lib/schemas/workers";

const ENROLL = "enroll-token-for-protocol-tests";
let api: ApiServer;

const fp = (runtime: HardwareFingerprint["runtime"] = "cpu"): HardwareFingerprint => ({
  runtime,
  ortVersion: "onnxruntime-node@1.30.0",
  cpuModel: "AMD EPYC 7B13 64-Core Processor",
  cpuCores: 2,
  memoryBytes: 24e9,
  platform: "linux-x64",
  nodeVersion: "v20.20.0",
});

async function post(path: string, body: unknown, token?: string): Promise<{ status: number; json: any }> {
  const r = await fetch(api.url + path, {
    method: "POST",
    headers: { "content-type": "application/json", ...(token ? { authorization: `Bearer ${token}` } : {}) },
    body: JSON.stringify(body),
  });
  const text = await r.text();
  return { status: r.status, json: text ? JSON.parse(text) : null };
}

async function register(name: string, runtimes: string[] = ["cpu"]): Promise<{ workerId: string; token: string }> {
  const hardware = Object.fromEntries(runtimes.map((r) => [r, fp(r as HardwareFingerprint["runtime"])]));
  const r = await post("/api/v1/workers/register", { name, capabilities: { runtimes }, hardware }, ENROLL);
  expect(r.status).toBe(201);
  return r.json;
}

function queueRun(over: Partial<typeof runs.$inferInsert> = {}): number {
  return api.db
    .insert(runs)
    .values({ methodId: "baseline", family: "baseline", params: {}, modelId: "m1", datasetId: "d1", runtime: "cpu", ...over })
    .returning({ id: runs.id })
    .get().id;
}

const runRow = (id: number) => api.db.select().from(runs).where(eq(runs.id, id)).get()!;
const statusEvents = (id: number) =>
  api.db
    .select()
    .from(runEvents)
    .where(eq(runEvents.runId, id))
    .all()
    .filter((e) => e.level === "status")
    .map((e) => e.message);

/** Drains the queue so each test starts from an empty one. */
function clearRuns() {
  api.db.delete(runEvents).run();
  api.db.delete(runMetrics).run();
  api.db.delete(artifacts).run();
  api.db.delete(runs).run();
}

beforeAll(async () => {
  api = await startApiServer({ env: { FRONTIER_ENROLL_TOKEN: ENROLL, FRONTIER_LEASE_MS: "60000", FRONTIER_RETRY_BASE_MS: "1" } });
  api.db
    .insert(models)
    .values({ id: "m1", name: "tiny", kind: "decoder-lm", source: "path", files: { dir: "zoo/tiny", model: "model.onnx" } })
    .run();
  api.db.insert(datasets).values({ id: "d1", name: "text", task: "perplexity", file: "data/d1.jsonl" }).run();
});
afterAll(async () => {
  await api?.close();
});

describe("worker registration", () => {
  it("refuses a wrong or missing enrollment token and stores only the token's hash", async () => {
    expect((await post("/api/v1/workers/register", { name: "x", capabilities: { runtimes: ["cpu"] } }, "nope")).status).toBe(401);
    expect((await post("/api/v1/workers/register", { name: "x", capabilities: { runtimes: ["cpu"] } })).status).toBe(401);
    const bad = await post("/api/v1/workers/register", { name: "", capabilities: { runtimes: ["gpu"] } }, ENROLL);
    expect(bad.status).toBe(400);
    expect(bad.json.details.map((d: { field: string }) => d.field)).toEqual(expect.arrayContaining(["name", "capabilities.runtimes.0"]));

    const { workerId, token } = await register("alpha");
    expect(Buffer.from(token, "base64url").length).toBeGreaterThanOrEqual(32);
    const row = api.db.select().from(workers).where(eq(workers.id, workerId)).get()!;
    expect(row.tokenHash).toMatch(/^[0-9a-f]{64}$/);
    expect(JSON.stringify(row)).not.toContain(token);
  });

  it("answers 503 with a clear message when the server has no enrollment token", async () => {
    const saved = process.env.FRONTIER_ENROLL_TOKEN;
    delete process.env.FRONTIER_ENROLL_TOKEN;
    try {
      const r = await post("/api/v1/workers/register", { name: "x", capabilities: { runtimes: ["cpu"] } }, ENROLL);
      expect(r.status).toBe(503);
      expect(r.json.error).toMatch(/FRONTIER_ENROLL_TOKEN/);
    } finally {
      process.env.FRONTIER_ENROLL_TOKEN = saved;
    }
  });
});

describe("lease protocol", () => {
  it("leases the oldest queued run on an offered runtime with absolute paths, and 204 when none", async () => {
    clearRuns();
    const w = await register("lessee", ["cpu", "wasm"]);
    expect((await post("/api/v1/workers/lease", {}, w.token)).status).toBe(204);
    expect((await post("/api/v1/workers/lease", {}, "bogus")).status).toBe(401);
    expect((await post("/api/v1/workers/lease", { runtimes: ["webgpu"] }, w.token)).status).toBe(400);

    queueRun({ runtime: "cpu", synthetic: true });
    expect((await post("/api/v1/workers/lease", {}, w.token)).status).toBe(204);
    const wasmRun = queueRun({ runtime: "wasm" });
    const cpuRun = queueRun({ runtime: "cpu", seed: 7 });
    const onlyCpu = await post("/api/v1/workers/lease", { runtimes: ["cpu"] }, w.token);
    expect(onlyCpu.status).toBe(200);
    const run = onlyCpu.json.run;
    expect(run.runId).toBe(cpuRun);
    expect(run.seed).toBe(7);
    expect(run.model.files.dir).toBe(`${process.cwd()}/zoo/tiny`);
    expect(run.dataset.file).toBe(`${process.cwd()}/data/d1.jsonl`);
    expect(run.baseline).toBeNull();
    expect(run.leaseToken.length).toBeGreaterThanOrEqual(32);
    expect(run.leaseExpiresAt - Date.now()).toBeGreaterThan(50_000);

    const row = runRow(cpuRun);
    expect(row).toMatchObject({ status: "leased", attempts: 1, workerId: w.workerId, leaseToken: run.leaseToken });
    expect(row.startedAt).not.toBeNull();
    expect(runRow(wasmRun).status).toBe("queued");
    expect(statusEvents(cpuRun)[0]).toMatch(/leased by worker lessee \(attempt 1 of 3\)/);
  });

  it("carries the validation split of the run's dataset as calibration, matched by name or id, and none for a validation run", async () => {
    clearRuns();
    const w = await register("calibrated");
    api.db
      .insert(datasets)
      .values([
        { id: "grammar-mc-test", name: "grammar-mc (test)", task: "multiple-choice", split: "test", file: "data/grammar-mc-test.jsonl" },
        {
          id: "grammar-mc-validation",
          name: "grammar-mc (validation)",
          task: "multiple-choice",
          split: "validation",
          file: "data/grammar-mc-validation.jsonl",
        },
        // same family prefix, other task and other family: never the sibling
        { id: "grammar-validation", name: "grammar (validation)", task: "perplexity", split: "validation", file: "data/grammar-validation.jsonl" },
        { id: "grammar-mc-extra-validation", name: "grammar-mc-extra (validation)", task: "multiple-choice", split: "validation", file: "data/x.jsonl" },
        // names that do not follow the "(split)" pattern pair up by id
        { id: "wiki-test", name: "Wiki held-out", task: "perplexity", split: "test", file: "data/wiki-test.jsonl" },
        { id: "wiki-validation", name: "Wiki dev", task: "perplexity", split: "validation", file: "data/wiki-validation.jsonl" },
      ])
      .run();
    const lease = async (datasetId: string) => {
      const id = queueRun({ datasetId });
      const r = await post("/api/v1/workers/lease", {}, w.token);
      expect(r.status).toBe(200);
      expect(r.json.run.runId).toBe(id);
      return r.json.run;
    };
    const mc = await lease("grammar-mc-test");
    expect(mc.calibration).toEqual({
      id: "grammar-mc-validation",
      task: "multiple-choice",
      file: `${process.cwd()}/data/grammar-mc-validation.jsonl`,
      sha256: null,
    });
    expect((await lease("wiki-test")).calibration?.id).toBe("wiki-validation");
    expect((await lease("grammar-mc-validation")).calibration).toBeNull();
    expect((await lease("d1")).calibration).toBeNull();
  });

  it("never hands one run to two workers", async () => {
    clearRuns();
    const ids = [queueRun(), queueRun(), queueRun()];
    const ws = await Promise.all(["c1", "c2", "c3", "c4", "c5"].map((n) => register(n)));
    const results = await Promise.all(ws.map((w) => post("/api/v1/workers/lease", {}, w.token)));
    const leased = results.filter((r) => r.status === 200).map((r) => r.json.run.runId);
    expect(leased.sort()).toEqual(ids.sort());
    expect(results.filter((r) => r.status === 204)).toHaveLength(2);
  });

  it("first heartbeat moves leased to running and stores stage, progress and logs", async () => {
    clearRuns();
    const w = await register("beater");
    const id = queueRun();
    const { run } = (await post("/api/v1/workers/lease", {}, w.token)).json;
    const hb = await post(
      `/api/v1/runs/${id}/heartbeat`,
      {
        leaseToken: run.leaseToken,
        stage: "evaluate",
        progress: 0.25,
        logs: [{ level: "info", message: "loaded model" }],
      },
      w.token,
    );
    expect(hb.status).toBe(200);
    expect(hb.json.canceled).toBe(false);
    expect(hb.json.leaseExpiresAt).toBeGreaterThanOrEqual(run.leaseExpiresAt);
    expect(runRow(id)).toMatchObject({ status: "running", stage: "evaluate", progress: 0.25 });
    const events = api.db.select().from(runEvents).where(eq(runEvents.runId, id)).all();
    expect(events.map((e) => e.message)).toEqual(expect.arrayContaining(["loaded model", "running on worker beater", "stage evaluate"]));
    expect((await post(`/api/v1/runs/${id}/heartbeat`, { leaseToken: run.leaseToken, progress: 2 }, w.token)).status).toBe(400);
  });

  it("answers 409 to a stale or foreign token and changes nothing", async () => {
    clearRuns();
    const owner = await register("owner");
    const other = await register("other");
    const id = queueRun();
    const { run } = (await post("/api/v1/workers/lease", {}, owner.token)).json;
    const before = runRow(id);
    const eventsBefore = api.db.select().from(runEvents).all().length;
    const metrics = { perplexity: 3 };
    const attempts = [
      post(`/api/v1/runs/${id}/heartbeat`, { leaseToken: "stale-token", stage: "x" }, owner.token),
      post(`/api/v1/runs/${id}/heartbeat`, { leaseToken: run.leaseToken, stage: "x" }, other.token),
      post(`/api/v1/runs/${id}/complete`, { leaseToken: "stale-token", metrics, hardware: fp() }, owner.token),
      post(`/api/v1/runs/${id}/complete`, { leaseToken: run.leaseToken, metrics, hardware: fp() }, other.token),
      post(`/api/v1/runs/${id}/fail`, { leaseToken: "stale-token", error: "boom", retryable: false }, owner.token),
      post(`/api/v1/runs/${id}/fail`, { leaseToken: run.leaseToken, error: "boom", retryable: false }, other.token),
    ];
    for (const r of await Promise.all(attempts)) {
      expect(r.status).toBe(409);
      expect(r.json.error).toMatch(/stale or foreign lease token/);
    }
    expect(runRow(id)).toEqual(before);
    expect(api.db.select().from(runEvents).all().length).toBe(eventsBefore);
    expect(api.db.select().from(runMetrics).where(eq(runMetrics.runId, id)).all()).toEqual([]);
    expect((await post(`/api/v1/runs/999999/heartbeat`, { leaseToken: "x" }, owner.token)).status).toBe(404);
  });

  it("completes with metrics, artifacts and hardware, then reuses the auto-baseline on later leases", async () => {
    clearRuns();
    const w = await register("finisher");
    const id = queueRun({ methodId: "quant-rtn", family: "quantization", params: { bits: 4 } });
    const { run } = (await post("/api/v1/workers/lease", {}, w.token)).json;
    expect(run.baseline).toBeNull();
    const sha = "a".repeat(64);
    const done = await post(
      `/api/v1/runs/${id}/complete`,
      {
        leaseToken: run.leaseToken,
        metrics: { perplexity: 12.5, decode_ms_per_token: 1.5 },
        artifacts: [{ kind: "model", path: "/tmp/x/model.onnx", bytes: 1234, sha256: sha }],
        hardware: fp(),
        baselineMetrics: { perplexity: 12, decode_ms_per_token: 3 },
        notes: ["shape-only check passed"],
      },
      w.token,
    );
    expect(done.status).toBe(200);
    const row = runRow(id);
    expect(row.status).toBe("succeeded");
    expect(row.hardwareKey).toBe(hardwareKey(fp()));
    expect(row.hardwareKey).toBe("cpu · AMD EPYC 7B13 ×2");
    expect(row.baselineRunId).toBe(done.json.baselineRunId);
    const base = runRow(done.json.baselineRunId);
    expect(base).toMatchObject({ methodId: "baseline", status: "succeeded", modelId: "m1", datasetId: "d1", runtime: "cpu", experimentId: null });
    expect(base.tags).toEqual(["auto-baseline"]);
    const m = Object.fromEntries(
      api.db
        .select()
        .from(runMetrics)
        .where(eq(runMetrics.runId, id))
        .all()
        .map((r) => [r.key, r.value]),
    );
    expect(m).toEqual({ perplexity: 12.5, decode_ms_per_token: 1.5 });
    expect(api.db.select().from(artifacts).where(eq(artifacts.runId, id)).all()).toHaveLength(1);

    // Completing twice is a 409: the lease ended with the first completion.
    expect((await post(`/api/v1/runs/${id}/complete`, { leaseToken: run.leaseToken, metrics: {}, hardware: fp() }, w.token)).status).toBe(409);

    // The next run on the same hardware gets that baseline in its lease; other hardware does not.
    const next = queueRun({ methodId: "quant-rtn", family: "quantization", params: { bits: 8 } });
    const lease2 = (await post("/api/v1/workers/lease", {}, w.token)).json.run;
    expect(lease2.runId).toBe(next);
    expect(lease2.baseline).toEqual({ runId: base.id, metrics: { perplexity: 12, decode_ms_per_token: 3 } });
    const elsewhere = await post(
      "/api/v1/workers/register",
      { name: "other-box", capabilities: { runtimes: ["cpu"] }, hardware: { cpu: { ...fp(), cpuModel: "Intel Xeon", cpuCores: 16 } } },
      ENROLL,
    );
    queueRun();
    expect((await post("/api/v1/workers/lease", {}, elsewhere.json.token)).json.run.baseline).toBeNull();

    // Invalid metrics are a 400 naming the field, and nothing is written.
    const bad = await post(`/api/v1/runs/${next}/complete`, { leaseToken: lease2.leaseToken, metrics: { "Bad Key": 1 }, hardware: fp() }, w.token);
    expect(bad.status).toBe(400);
    expect(runRow(next).status).toBe("leased");
  });

  it("fail: retryable requeues with backoff until max_attempts, then fails with the error", async () => {
    clearRuns();
    const w = await register("flaky");
    const id = queueRun({ maxAttempts: 2 });
    const l1 = (await post("/api/v1/workers/lease", {}, w.token)).json.run;
    const f1 = await post(`/api/v1/runs/${id}/fail`, { leaseToken: l1.leaseToken, error: "child crashed", retryable: true }, w.token);
    expect(f1.json).toMatchObject({ status: "queued", attempts: 1, maxAttempts: 2 });
    expect(runRow(id)).toMatchObject({ status: "queued", leaseToken: null, error: "child crashed" });
    await new Promise((r) => setTimeout(r, 5)); // backoff 2^1 × 1 ms (FRONTIER_RETRY_BASE_MS=1)
    const l2 = (await post("/api/v1/workers/lease", {}, w.token)).json.run;
    expect(l2).toMatchObject({ runId: id, attempt: 2 });
    expect(l2.leaseToken).not.toBe(l1.leaseToken);
    expect((await post(`/api/v1/runs/${id}/heartbeat`, { leaseToken: l1.leaseToken }, w.token)).status).toBe(409);
    const f2 = await post(`/api/v1/runs/${id}/fail`, { leaseToken: l2.leaseToken, error: "child crashed again", retryable: true }, w.token);
    expect(f2.json.status).toBe("failed");
    expect(runRow(id)).toMatchObject({ status: "failed", error: "child crashed again", attempts: 2 });
    expect(statusEvents(id).at(-1)).toMatch(/no attempts left \(attempt 2 of 2\)/);

    const id2 = queueRun();
    const l3 = (await post("/api/v1/workers/lease", {}, w.token)).json.run;
    await post(`/api/v1/runs/${id2}/fail`, { leaseToken: l3.leaseToken, error: "unknown method", retryable: false }, w.token);
    expect(runRow(id2)).toMatchObject({ status: "failed", attempts: 1 });
  });

  it("a canceled run tells its lease holder on the next heartbeat and refuses complete/fail", async () => {
    clearRuns();
    const w = await register("cancelee");
    const id = queueRun();
    const { run } = (await post("/api/v1/workers/lease", {}, w.token)).json;
    await post(`/api/v1/runs/${id}/heartbeat`, { leaseToken: run.leaseToken }, w.token);
    const cancel = await post(`/api/v1/runs/${id}/cancel`, {});
    if (cancel.status === 404) {
      // The tracker's cancel route is not in this checkout: cancel the way it does, keeping the lease token.
      api.db.update(runs).set({ status: "canceled", finishedAt: Date.now() }).where(eq(runs.id, id)).run();
    } else expect(cancel.status).toBe(200);
    expect(runRow(id).status).toBe("canceled");
    const hb = await post(`/api/v1/runs/${id}/heartbeat`, { leaseToken: run.leaseToken, stage: "late" }, w.token);
    expect(hb.status).toBe(200);
    expect(hb.json.canceled).toBe(true);
    const done = await post(`/api/v1/runs/${id}/complete`, { leaseToken: run.leaseToken, metrics: { perplexity: 1 }, hardware: fp() }, w.token);
    expect(done.status).toBe(409);
    expect(done.json.error).toMatch(/canceled/);
    expect((await post(`/api/v1/runs/${id}/fail`, { leaseToken: run.leaseToken, error: "x", retryable: true }, w.token)).status).toBe(409);
    expect(runRow(id).status).toBe("canceled");
    expect(api.db.select().from(runMetrics).where(eq(runMetrics.runId, id)).all()).toEqual([]);
  });

  it("an unregistered model fails the run at lease time instead of handing it out", async () => {
    clearRuns();
    const w = await register("picky");
    const ghost = queueRun({ modelId: "nope" });
    const good = queueRun();
    const r = await post("/api/v1/workers/lease", {}, w.token);
    expect(r.json.run.runId).toBe(good);
    expect(runRow(ghost)).toMatchObject({ status: "failed", error: "model nope is not registered" });
  });
});

describe("lease expiry", () => {
  it("requeues an expired lease with backoff, fences the old holder, and fails after max_attempts with the reason", async () => {
    const { claimRun, heartbeatRun } = await import("../../db/queries/leases");
    const { authenticateWorker } = await import("../../db/queries/workers");
    clearRuns();
    const a = authenticateWorker((await register("sleepy")).token, api.db);
    const b = authenticateWorker((await register("eager")).token, api.db);
    const id = queueRun({ maxAttempts: 2 });
    const t0 = 1_000_000_000_000;
    const l1 = claimRun(a, ["cpu"], api.db, { now: t0, leaseMs: 1000 })!;
    expect(l1.runId).toBe(id);
    // Still within the lease: nothing for b.
    expect(claimRun(b, ["cpu"], api.db, { now: t0 + 999, leaseMs: 1000 })).toBeNull();
    // Expired: reaped to queued, but backoff (2^1 × 1 ms) holds it until t0 + 1001 + 2.
    expect(claimRun(b, ["cpu"], api.db, { now: t0 + 1001, leaseMs: 1000 })).toBeNull();
    expect(runRow(id)).toMatchObject({ status: "queued", leaseToken: null, availableAt: t0 + 1003 });
    expect(runRow(id).error).toMatch(/worker sleepy stopped heartbeating/);
    expect(() => heartbeatRun(id, a, { leaseToken: l1.leaseToken, logs: [] }, api.db, { now: t0 + 1002 })).toThrow(/stale or foreign/);
    const l2 = claimRun(b, ["cpu"], api.db, { now: t0 + 1003, leaseMs: 1000 })!;
    expect(l2).toMatchObject({ runId: id, attempt: 2 });
    // A heartbeat extends the lease past the original expiry.
    heartbeatRun(id, b, { leaseToken: l2.leaseToken, logs: [] }, api.db, { now: t0 + 1900, leaseMs: 1000 });
    expect(claimRun(a, ["cpu"], api.db, { now: t0 + 2500, leaseMs: 1000 })).toBeNull();
    expect(runRow(id).status).toBe("running");
    // Second expiry with no attempts left: failed with the reason.
    expect(claimRun(a, ["cpu"], api.db, { now: t0 + 2901, leaseMs: 1000 })).toBeNull();
    expect(runRow(id)).toMatchObject({ status: "failed", leaseToken: null });
    expect(runRow(id).error).toBe("lease expired on attempt 2 of 2, no attempts left; last worker eager stopped heartbeating");
  });
});
