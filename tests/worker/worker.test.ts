/**
 * The worker as real processes: `workers/main.ts` started with tsx, job child processes forked by
 * it, real HTTP to the real route handlers (tests/helpers/api-server.ts), real baseline jobs on a
 * tiny decoder. Longer jobs come from the worker's documented --bench-repeats setting (more timed
 * benchmark requests), never from sleeping.
 */
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { eq } from "drizzle-orm";
import { startApiServer, type ApiServer } from "../helpers/api-server";
import { inArray } from "drizzle-orm";
import fs from "node:fs";
import path from "node:path";
import { datasets, runMetrics, runs, workers } from "../../db/schema";
import { ENROLL, events, isAlive, queueBaseline, registerTinyModel, runRow, startWorker, until, type WorkerProc } from "./fixtures";

// Heartbeats every 667 ms (lease / 6); a stopped worker loses its lease after 4 s. A 1.5 s lease
// expired under healthy workers here: the 2-core test box ran at load average 6-18 (2026-11-27).
const LEASE_MS = 4000;
const BEAT_MS = LEASE_MS / 6;
let api: ApiServer;
const started: WorkerProc[] = [];

function worker(name: string, args: string[] = [], env: Record<string, string> = {}, ownGroup = false): WorkerProc {
  const w = startWorker(api, name, args, env, ownGroup);
  started.push(w);
  return w;
}

const pidOf = async (w: WorkerProc, runId: number) =>
  Number((await w.waitFor(new RegExp(`run ${runId} \\(baseline, attempt \\d+ of \\d+\\): job process pid (\\d+)`)))[1]);
const eventText = (id: number) => events(api, id).map((e) => `${e.level}: ${e.message}`);
const metricsOf = (id: number) => api.db.select().from(runMetrics).where(eq(runMetrics.runId, id)).all();

beforeAll(async () => {
  api = await startApiServer({ env: { FRONTIER_ENROLL_TOKEN: ENROLL, FRONTIER_LEASE_MS: String(LEASE_MS), FRONTIER_RETRY_BASE_MS: "50" } });
  registerTinyModel(api);
});
afterEach(async () => {
  for (const w of started.splice(0)) {
    if (w.proc.signalCode === "SIGSTOP" || w.proc.exitCode === null) w.proc.kill("SIGCONT");
    await w.stop();
  }
  // A test that failed half-way must not leave work for the next test's worker.
  api.db
    .update(runs)
    .set({ status: "canceled" })
    .where(inArray(runs.status, ["queued", "leased", "running"]))
    .run();
});
afterAll(async () => {
  await api?.close();
});

describe("worker process", () => {
  it("registers, runs a baseline job in a child process, completes it and logs its overhead", async () => {
    const id = queueBaseline(api);
    const w = worker("plain");
    const row = await until("run succeeded", () => runRow(api, id).status === "succeeded" && runRow(api, id), 30_000);
    expect(row.hardwareKey).toMatch(/^cpu · .+ ×\d+( · [A-Z][\w -]+)?$/);
    expect(row.attempts).toBe(1);
    const keys = metricsOf(id).map((m) => m.key);
    expect(keys).toEqual(expect.arrayContaining(["perplexity", "decode_ms_per_token", "prefill_ms", "latency_ms_p50"]));
    const pid = await pidOf(w, id);
    expect(pid).not.toBe(w.proc.pid);
    expect(eventText(id)).toEqual(expect.arrayContaining([`info: job process pid ${pid} started (attempt 1)`, "status: running on worker plain"]));
    const m = await w.waitFor(/run \d+ result in (\d+) ms; worker overhead (-?\d+) ms \(([\d.]+)% of wall time, executeJob (\d+) ms\)/);
    expect(Number(m[1])).toBeGreaterThan(Number(m[4]));
    const registered = api.db.select().from(workers).where(eq(workers.name, "plain")).get()!;
    expect(row.workerId).toBe(registered.id);
  });

  it("an experiment submitted through the API runs on the worker; the first run measures and stores the baseline, the next reuses it", async () => {
    // A model of its own: no baseline exists for it yet on this hardware.
    registerTinyModel(api, "rtn");
    const created = await fetch(`${api.url}/api/v1/experiments`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ name: "rtn sweep", modelId: "rtn", datasetId: "rtn-text", runtime: "cpu", methodId: "quant.rtn", grid: { bits: [8, 4] } }),
    });
    expect(created.status).toBe(201);
    const { runIds } = (await created.json()) as { runIds: number[] };
    expect(runIds).toHaveLength(2);
    worker("sweeper");
    const [first, second] = await until(
      "both runs finished",
      () => {
        const rows = runIds.map((id) => runRow(api, id));
        return rows.every((r) => r.status === "succeeded" || r.status === "failed") && rows;
      },
      45_000,
    );
    expect([first.status, second.status, first.error, second.error]).toEqual(["succeeded", "succeeded", null, null]);
    const base = runRow(api, first.baselineRunId!);
    expect(base).toMatchObject({ methodId: "baseline", status: "succeeded", modelId: "rtn", hardwareKey: first.hardwareKey, tags: ["auto-baseline"] });
    expect(second.baselineRunId).toBe(base.id);
    expect(metricsOf(base.id).map((m) => m.key)).toEqual(expect.arrayContaining(["perplexity", "decode_ms_per_token"]));
    expect(metricsOf(second.id).map((m) => m.key)).toEqual(expect.arrayContaining(["perplexity", "speedup", "bits_effective"]));
  });

  it("a GPTQ run on a test split calibrates on the registered validation split the lease carries, and its events say so", async () => {
    registerTinyModel(api, "cal");
    const words = ["a", "small", "model", "reads", "the", "dev", "split", "only"];
    const file = (split: string, lines: number) => {
      const f = path.join(api.dir, `cal-${split}.jsonl`);
      const rows = Array.from({ length: lines }, (_, i) =>
        JSON.stringify({ text: Array.from({ length: 30 }, (_, j) => words[(i * 5 + j * 3) % words.length]).join(" ") }),
      );
      fs.writeFileSync(f, rows.join("\n") + "\n");
      return f;
    };
    api.db
      .insert(datasets)
      .values([
        { id: "cal-test", name: "cal (test)", task: "perplexity", split: "test", file: file("test", 8) },
        { id: "cal-validation", name: "cal (validation)", task: "perplexity", split: "validation", file: file("validation", 3) },
      ])
      .run();
    const id = queueBaseline(api, {
      methodId: "quant.gptq",
      family: "quantization",
      modelId: "cal",
      datasetId: "cal-test",
      params: { bits: 4, group_size: 32, calib_samples: 4, sequential: false },
    });
    worker("calibrator");
    const row = await until("gptq run finished", () => ["succeeded", "failed"].includes(runRow(api, id).status) && runRow(api, id), 60_000);
    expect(row.error).toBeNull();
    expect(row.status).toBe("succeeded");
    const text = eventText(id).join("\n");
    // 3 lines of about 100 bytes: fewer tokens than 4 windows of the model's 160 positions
    expect(text).toMatch(/info: calibration: dataset cal-validation \(validation split of cal-test\): [12] sequences x 160 tokens from 3 examples/);
    expect(text).toMatch(/warn: calibration asked for 4 x 160 = 640 tokens; the text has \d+, so it uses [12] x 160/);
  });

  it("cancel mid-run: the worker kills the job's process within one heartbeat and the run stays canceled", async () => {
    const id = queueBaseline(api);
    const w = worker("cancel", ["--bench-repeats", "5000"]);
    const pid = await pidOf(w, id);
    await until("benchmark stage", () => /benchmark/.test(runRow(api, id).stage ?? ""), 30_000);
    const r = await fetch(`${api.url}/api/v1/runs/${id}/cancel`, { method: "POST" });
    expect(r.status).toBe(200);
    const t0 = Date.now();
    await until("job process gone", () => !isAlive(pid), 5000);
    // One heartbeat interval plus the round trip and process teardown on a busy 2-core box.
    expect(Date.now() - t0).toBeLessThan(3 * BEAT_MS);
    await w.waitFor(new RegExp(`run ${id} killed \\(canceled\\)`));
    const row = runRow(api, id);
    expect(row.status).toBe("canceled");
    expect(metricsOf(id)).toEqual([]);
    expect(w.proc.exitCode).toBeNull();
  });

  it("a job process killed by SIGKILL fails one attempt; the retry completes; with no attempts left the run fails with the reason", async () => {
    const retried = queueBaseline(api, { maxAttempts: 2 });
    const w = worker("oom", ["--bench-repeats", "40"]);
    // Killed as soon as the worker names it: the job (seconds long) is certainly still running.
    process.kill(await pidOf(w, retried), "SIGKILL");
    await until("run succeeded on retry", () => runRow(api, retried).status === "succeeded", 40_000);
    const row = runRow(api, retried);
    expect(row.attempts).toBe(2);
    const killed = eventText(retried).find((e) => e.includes("killed by SIGKILL"));
    expect(killed).toMatch(
      /^status: queued: attempt 1 of 2 failed on worker oom: job process was killed by SIGKILL \(out of memory\?\) at stage .+; retry in \d+ ms$/,
    );

    const doomed = queueBaseline(api, { maxAttempts: 1 });
    process.kill(await pidOf(w, doomed), "SIGKILL");
    const failed = await until("run failed", () => runRow(api, doomed).status === "failed" && runRow(api, doomed), 20_000);
    expect(failed.attempts).toBe(1);
    expect(failed.error).toMatch(/^job process was killed by SIGKILL \(out of memory\?\) at stage /);
    expect(w.proc.exitCode).toBeNull();
  });

  it("a worker that stops heartbeating loses its lease; another worker re-leases and completes the run; the first is fenced off", async () => {
    const id = queueBaseline(api);
    const a = worker("stalled", ["--bench-repeats", "40"]);
    await pidOf(a, id);
    a.proc.kill("SIGSTOP");
    const b = worker("rescuer");
    const row = await until("run succeeded", () => runRow(api, id).status === "succeeded" && runRow(api, id), 40_000).catch((e) => {
      console.log(eventText(id).join("\n"), "\nA:", a.output(), "\nB:", b.output());
      throw e;
    });
    const rescuer = api.db.select().from(workers).where(eq(workers.name, "rescuer")).get()!;
    expect(row.workerId).toBe(rescuer.id);
    expect(row.attempts).toBe(2);
    expect(eventText(id)).toEqual(expect.arrayContaining([expect.stringMatching(/lease expired on attempt 1 of 3: worker stalled stopped heartbeating/)]));
    a.proc.kill("SIGCONT");
    await a.waitFor(new RegExp(`run ${id}: (lease lost|could not report the outcome).*409`));
    expect(runRow(api, id)).toMatchObject({ status: "succeeded", workerId: rescuer.id });
    await b.stop();
  });

  // 150 timed requests: with 40 the whole job took 633 ms on a quiet box (2026-11-27), finishing
  // before the first heartbeat (667 ms) could report a stage, so the signal came after the job.
  it("SIGTERM lets the current job finish, then exits 0", async () => {
    const id = queueBaseline(api);
    const w = worker("graceful", ["--bench-repeats", "150"]);
    await pidOf(w, id);
    await until("a stage", () => runRow(api, id).stage, 30_000);
    w.proc.kill("SIGTERM");
    const exit = await w.exited;
    expect(exit).toEqual({ code: 0, signal: null });
    expect(runRow(api, id).status).toBe("succeeded");
    expect(w.output()).toMatch(/stopping: waiting up to 30000 ms/);
  });

  it("Ctrl-C (SIGINT to the whole process group) also lets the current job finish", async () => {
    const id = queueBaseline(api);
    const w = worker("interrupted", ["--bench-repeats", "150"], {}, true);
    const pid = await pidOf(w, id);
    await until("a stage", () => runRow(api, id).stage, 30_000);
    process.kill(-w.proc.pid!, "SIGINT");
    expect(await w.exited).toEqual({ code: 0, signal: null });
    expect(runRow(api, id)).toMatchObject({ status: "succeeded", attempts: 1 });
    expect(isAlive(pid)).toBe(false);
  });

  it("SIGTERM past the grace period kills the job and returns the run to the queue, then exits 0", async () => {
    const id = queueBaseline(api);
    const w = worker("hasty", ["--bench-repeats", "5000"], { FRONTIER_WORKER_GRACE_MS: "300" });
    const pid = await pidOf(w, id);
    await until("benchmark stage", () => /benchmark/.test(runRow(api, id).stage ?? ""), 30_000);
    w.proc.kill("SIGTERM");
    expect(await w.exited).toEqual({ code: 0, signal: null });
    expect(isAlive(pid)).toBe(false);
    const row = runRow(api, id);
    expect(row).toMatchObject({ status: "queued", attempts: 1, error: "worker shutting down", leaseToken: null });
  });
});
