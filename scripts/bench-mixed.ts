/**
 * The mixed load of `npm run bench:tracker`: a real HTTP server on loopback (the route handlers served by node:http, as in
 * the API tests) in token mode over a copy of the benchmark database, and 20 concurrent clients: 16 dashboard/API clients
 * (runs lists, the README filter query, Pareto fronts, filtered CSV exports, logged runs, metric batches) and 4 workers
 * (lease, heartbeat, complete). Bounded in requests and in time. Reports p50/p95 per endpoint, the error count, and
 * checks that no run was lost or duplicated.
 */
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { performance } from "node:perf_hooks";
import { seededRng } from "../workers/eval/dataset";

export interface MixedOptions {
  dbFile: string;
  apiClients?: number;
  workers?: number;
  requestsPerClient?: number;
  cyclesPerWorker?: number;
  deadlineMs?: number;
}

export interface EndpointStats {
  requests: number;
  p50ms: number;
  p95ms: number;
  maxMs: number;
}

export interface MixedResult {
  clients: number;
  requests: number;
  seconds: number;
  /** CPU time of this process (server and clients together) during the load: what the requests cost without waiting for a core. */
  cpuSeconds: number;
  errors: number;
  errorSamples: string[];
  endpoints: Record<string, EndpointStats>;
  runsCreated: number;
  leased: number;
  completed: number;
  integrity: { lostRuns: number; duplicateRuns: number; doubleLeased: number; pointsMissing: number; ok: boolean };
}

const ENROLL = "bench-mixed-enrollment-token";

/** The parts of the answers the load reads: a logged run's id, a worker's token, a lease. */
interface Answer {
  id: number;
  runIds: number[];
  token: string;
  run: { runId: number; leaseToken: string };
}
const pct = (xs: number[], p: number) => {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor((p / 100) * s.length))] ?? 0;
};

export async function mixedLoad(opts: MixedOptions): Promise<MixedResult> {
  const apiClients = opts.apiClients ?? 16;
  const workerCount = opts.workers ?? 4;
  const perClient = opts.requestsPerClient ?? 60;
  const cycles = opts.cyclesPerWorker ?? 25;
  const deadline = performance.now() + (opts.deadlineMs ?? 120_000);

  // A copy, so the load's writes never change the database the other figures are measured on.
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "frontier-bench-mixed-"));
  const copy = path.join(dir, "mixed.db");
  fs.copyFileSync(opts.dbFile, copy);
  const { startApiServer } = await import("../tests/helpers/api-server");
  const { registerBundled } = await import("../db/queries/bundled");
  const { createApiToken } = await import("../db/queries/auth");
  const api = await startApiServer({
    dir,
    env: { FRONTIER_DB: copy, FRONTIER_DATA_DIR: dir, FRONTIER_AUTH: "token", FRONTIER_READ: "open", FRONTIER_ENROLL_TOKEN: ENROLL },
  });
  try {
    registerBundled(process.cwd(), api.db);
    const token = createApiToken("bench", api.db).token;
    const sqlite = api.db.$client;
    const runsBefore = (sqlite.prepare("SELECT count(*) AS n FROM runs").get() as { n: number }).n;

    const lat = new Map<string, number[]>();
    let errors = 0;
    const errorSamples: string[] = [];
    async function call(label: string, method: string, p: string, body?: unknown, bearer = token): Promise<{ status: number; json: Answer }> {
      const t = performance.now();
      try {
        const res = await fetch(api.url + p, {
          method,
          headers: { authorization: `Bearer ${bearer}`, ...(body !== undefined ? { "content-type": "application/json" } : {}) },
          body: body === undefined ? undefined : JSON.stringify(body),
        });
        const text = await res.text();
        const ms = performance.now() - t;
        const isJson = (res.headers.get("content-type") ?? "").includes("json") && text !== "";
        (lat.get(label) ?? lat.set(label, []).get(label)!).push(ms);
        if (res.status >= 300 && !(res.status === 204 && label === "POST /workers/lease")) {
          errors++;
          if (errorSamples.length < 5) errorSamples.push(`${method} ${p} -> ${res.status} ${text.slice(0, 200)}`);
        }
        return { status: res.status, json: (isJson ? JSON.parse(text) : {}) as Answer };
      } catch (e) {
        errors++;
        if (errorSamples.length < 5) errorSamples.push(`${method} ${p} -> ${(e as Error).message}`);
        return { status: 0, json: {} as Answer };
      }
    }

    const created: number[] = [];
    let pointsSent = 0;
    const families = ["quantization", "pruning", "tokens", "speculative", "baseline"];
    const sorts = ["-metric.accuracy", "metric.perplexity", "-createdAt", "metric.latency_ms_p50"];
    async function apiClient(c: number): Promise<void> {
      const rand = seededRng(1000 + c);
      let mine: number | null = null;
      let step = 0;
      for (let i = 0; i < perClient && performance.now() < deadline; i++) {
        const r = rand();
        const fam = families[Math.floor(rand() * families.length)];
        if (r < 0.3) {
          const sort = encodeURIComponent(sorts[Math.floor(rand() * sorts.length)]);
          await call("GET /runs (list)", "GET", `/api/v1/runs?includeSynthetic=1&limit=50&sort=${sort}&family=${fam}`);
        } else if (r < 0.45) {
          await call(
            "GET /runs (README filter)",
            "GET",
            "/api/v1/runs?includeSynthetic=1&family=quantization&metric.perplexity<=12&sort=metric.decode_ms_per_token",
          );
        } else if (r < 0.53) {
          await call("GET /pareto", "GET", `/api/v1/pareto?includeSynthetic=1&x=latency_ms_p50&y=accuracy&group=family&family=${fam}`);
        } else if (r < 0.57) {
          await call("GET /export (filtered csv)", "GET", `/api/v1/export?includeSynthetic=1&format=csv&family=${fam}&tag=sweep-a`);
        } else if (r < 0.62) {
          // queues one real run for the workers to lease
          const res = await call("POST /experiments", "POST", "/api/v1/experiments", {
            name: `mixed ${c}.${i}`,
            modelId: "zoo-small",
            datasetId: "grammar-test",
            runtime: "cpu",
            methodId: "baseline",
            seed: c * 1000 + i,
          });
          if (res.status === 201) created.push(...res.json.runIds);
        } else if (r < 0.78 || mine === null) {
          const res = await call("POST /runs", "POST", "/api/v1/runs", {
            methodId: "baseline",
            modelId: "zoo-small",
            datasetId: "tiny-text",
            runtime: "cpu",
            metrics: { accuracy: rand(), perplexity: 4 + 20 * rand() },
            tags: ["mixed-load"],
          });
          if (res.status === 201) {
            created.push(res.json.id);
            mine = res.json.id;
            step = 0;
          }
        } else {
          const points = Array.from({ length: 100 }, (_, k) => ({ key: "train/loss", step: step + k, value: rand() }));
          const res = await call("POST /runs/:id/metrics", "POST", `/api/v1/runs/${mine}/metrics`, { batchId: `c${c}-s${step}`, points });
          if (res.status === 201) pointsSent += 100;
          step += 100;
        }
      }
    }

    const fp = {
      runtime: "cpu",
      ortVersion: "1.30.0",
      cpuModel: "bench CPU",
      cpuCores: 2,
      memoryBytes: 8e9,
      platform: "linux-x64",
      nodeVersion: process.version,
    };
    const leasedIds: number[] = [];
    let completed = 0;
    let apiDone = false;
    async function worker(w: number): Promise<void> {
      const reg = await call(
        "POST /workers/register",
        "POST",
        "/api/v1/workers/register",
        { name: `bench-${w}`, capabilities: { runtimes: ["cpu"] }, hardware: { cpu: fp } },
        ENROLL,
      );
      if (reg.status !== 201) return;
      const wt = reg.json.token;
      // Lease until the API clients are done and the queue is drained (or the cap or the deadline).
      for (let i = 0; i < cycles && performance.now() < deadline; ) {
        const lease = await call("POST /workers/lease", "POST", "/api/v1/workers/lease", {}, wt);
        if (lease.status !== 200) {
          if (apiDone) break;
          await new Promise((r) => setTimeout(r, 100));
          continue;
        }
        i++;
        const { runId: id, leaseToken } = lease.json.run;
        leasedIds.push(id);
        await call("POST /runs/:id/heartbeat", "POST", `/api/v1/runs/${id}/heartbeat`, { leaseToken, stage: "eval", progress: 0.5 }, wt);
        const done = await call(
          "POST /runs/:id/complete",
          "POST",
          `/api/v1/runs/${id}/complete`,
          { leaseToken, metrics: { accuracy: 0.5, perplexity: 9, decode_ms_per_token: 3 }, hardware: fp },
          wt,
        );
        if (done.status === 200) completed++;
      }
    }

    const t0 = performance.now();
    const cpu0 = process.cpuUsage();
    const workersDone = Promise.all(Array.from({ length: workerCount }, (_, w) => worker(w)));
    await Promise.all(Array.from({ length: apiClients }, (_, c) => apiClient(c)));
    apiDone = true;
    await workersDone;
    const seconds = (performance.now() - t0) / 1000;
    const cpu = process.cpuUsage(cpu0);
    const cpuSeconds = (cpu.user + cpu.system) / 1e6;

    // Integrity: every run a 201 answered exists once, nothing else appeared or vanished, every metric point stored,
    // and no run was leased twice.
    const uniqueCreated = new Set(created);
    const found = created.length
      ? (sqlite.prepare(`SELECT count(*) AS n FROM runs WHERE id IN (${[...uniqueCreated].join(",")})`).get() as { n: number }).n
      : 0;
    const runsAfter = (sqlite.prepare("SELECT count(*) AS n FROM runs").get() as { n: number }).n;
    const points = created.length
      ? (sqlite.prepare(`SELECT count(*) AS n FROM metric_points WHERE run_id IN (${[...uniqueCreated].join(",")})`).get() as { n: number }).n
      : 0;
    const succeeded = leasedIds.length
      ? (sqlite.prepare(`SELECT count(*) AS n FROM runs WHERE status = 'succeeded' AND id IN (${leasedIds.join(",")})`).get() as { n: number }).n
      : 0;
    const integrity = {
      lostRuns: uniqueCreated.size - found + Math.max(0, runsBefore + uniqueCreated.size - runsAfter),
      duplicateRuns: created.length - uniqueCreated.size + Math.max(0, runsAfter - runsBefore - uniqueCreated.size),
      doubleLeased: leasedIds.length - new Set(leasedIds).size,
      pointsMissing: pointsSent - points,
      ok: false,
    };
    integrity.ok =
      integrity.lostRuns === 0 && integrity.duplicateRuns === 0 && integrity.doubleLeased === 0 && integrity.pointsMissing === 0 && succeeded === completed;
    const endpoints: Record<string, EndpointStats> = {};
    for (const [label, xs] of [...lat.entries()].sort()) {
      endpoints[label] = { requests: xs.length, p50ms: pct(xs, 50), p95ms: pct(xs, 95), maxMs: Math.max(...xs) };
    }
    return {
      clients: apiClients + workerCount,
      requests: [...lat.values()].reduce((n, xs) => n + xs.length, 0),
      seconds,
      cpuSeconds,
      errors,
      errorSamples,
      endpoints,
      runsCreated: uniqueCreated.size,
      leased: leasedIds.length,
      completed,
      integrity,
    };
  } finally {
    await api.close();
    fs.rmSync(dir, { recursive: true, force: true });
  }
}
