/**
 * Tracker benchmark: fills a separate database with 100,000 synthetic runs (synthetic = 1, so they
 * are never shown as real results) and times the API by calling the route handlers in-process
 * with real Request objects (no HTTP server, so figures exclude socket and framework overhead).
 *
 *   npm run bench:tracker [-- --runs 100000 --db data/bench-tracker.db] [--reuse] [--mixed-only]
 *
 * --reuse keeps an existing benchmark database instead of refilling it. After the in-process figures, a mixed load of
 * 20 clients runs over HTTP on loopback (scripts/bench-mixed.ts); --mixed-only measures just the README example query
 * and that load. Each figure is wall time;
 * the process CPU time of the same calls is printed beside it, since on a shared machine wall time
 * also counts waiting for a core.
 */
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { performance } from "node:perf_hooks";
import { execSync } from "node:child_process";
import { seededRng } from "../workers/eval/dataset";
import { type MixedResult, mixedLoad } from "./bench-mixed";

function arg(name: string, fallback: string): string {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 && process.argv[i + 1] ? process.argv[i + 1] : fallback;
}

const RUNS = Number(arg("runs", "100000"));
const DB_FILE = path.resolve(arg("db", path.join("data", "bench-tracker.db")));
const REUSE = process.argv.includes("--reuse") && fs.existsSync(DB_FILE);
const MIXED_ONLY = process.argv.includes("--mixed-only");
if (!REUSE) for (const suffix of ["", "-wal", "-shm"]) fs.rmSync(DB_FILE + suffix, { force: true });
process.env.FRONTIER_DB = DB_FILE;

const { getDb, closeDb } = await import("../db/client");
const { METHODS } = await import("../lib/methods");
const runsRoute = await import("../app/api/v1/runs/route");
const paretoRoute = await import("../app/api/v1/pareto/route");
const { paretoColumnCache } = await import("../db/queries/pareto");
const exportRoute = await import("../app/api/v1/export/route");
const pointsRoute = await import("../app/api/v1/runs/[id]/metrics/route");

/** Seeded (the harness's mulberry32): the same database on every run of the benchmark. */
const rand = seededRng(20261127);
const pick = <T>(xs: readonly T[]): T => xs[Math.floor(rand() * xs.length)];

const RUNTIMES = ["cpu", "cpu", "cpu", "webgpu", "wasm", "browser"] as const;
const HARDWARE: Record<string, string[]> = {
  cpu: ["cpu · AMD EPYC 7B13 ×2", "cpu · Intel Xeon Platinum 8481C ×16", "cpu · Apple M2 ×8"],
  webgpu: ["webgpu · NVIDIA H100 80GB HBM3", "webgpu · NVIDIA H200"],
  wasm: ["wasm · AMD EPYC 7B13 ×2"],
  browser: ["browser · Google SwiftShader", "browser · Apple M2"],
};
const MODELS = ["zoo-draft", "zoo-small", "zoo-base"];
const DATASETS = ["arith-mc", "copy-recall", "tiny-text"];

function fill(): number {
  const db = getDb();
  const sqlite = db.$client;
  const insRun = sqlite.prepare(`INSERT INTO runs (method_id, family, params, model_id, dataset_id, runtime, hardware_key, hardware,
    status, attempts, max_attempts, tags, source, synthetic, seed, created_at, started_at, finished_at, updated_at)
    VALUES (?, ?, ?, ?, ?, ?, ?, NULL, ?, 1, 3, ?, 'executed', 1, ?, ?, ?, ?, ?)`);
  const insMetric = sqlite.prepare("INSERT INTO run_metrics (run_id, key, value) VALUES (?, ?, ?)");
  const t0 = performance.now();
  const start = Date.UTC(2026, 0, 1);
  const batch = sqlite.transaction((from: number, to: number) => {
    for (let i = from; i < to; i++) {
      const m = pick(METHODS);
      const params = m.params.parse({}) as Record<string, unknown>;
      if ("bits" in params) params.bits = pick([2, 3, 4, 8]);
      if ("sparsity" in params) params.sparsity = Math.round(rand() * 18) / 20;
      const runtime = pick(RUNTIMES);
      const status = rand() < 0.9 ? "succeeded" : pick(["failed", "canceled", "queued", "running"]);
      const created = start + i * 60_000;
      const tags = rand() < 0.1 ? '["sweep-a"]' : rand() < 0.1 ? '["paper","final"]' : "[]";
      const info = insRun.run(
        m.id,
        m.family,
        JSON.stringify(params),
        pick(MODELS),
        pick(DATASETS),
        runtime,
        pick(HARDWARE[runtime]),
        status,
        tags,
        i,
        created,
        created + 1000,
        status === "succeeded" || status === "failed" ? created + 60_000 : null,
        created + 60_000,
      );
      if (status !== "succeeded") continue;
      const id = Number(info.lastInsertRowid);
      const bits = typeof params.bits === "number" ? params.bits : 32;
      const quality = 0.3 + 0.6 * rand() * (bits >= 4 ? 1 : 0.7);
      const decode = (runtime === "webgpu" ? 2 : runtime === "cpu" ? 12 : 30) * (0.5 + rand()) * (bits / 32 + 0.3);
      insMetric.run(id, "accuracy", quality);
      insMetric.run(id, "perplexity", 4 + 40 * (1 - quality) * (0.8 + 0.4 * rand()));
      insMetric.run(id, "decode_ms_per_token", decode);
      insMetric.run(id, "latency_ms_p50", decode * 32 + 5 * rand());
      insMetric.run(id, "latency_ms_p95", decode * 36 + 10 * rand());
      insMetric.run(id, "tokens_per_s", 1000 / decode);
      insMetric.run(id, "model_bytes", Math.round(2e8 * (bits / 32) * (0.9 + 0.2 * rand())));
      insMetric.run(id, "peak_rss_bytes", Math.round(6e8 * (0.8 + 0.4 * rand())));
    }
  });
  for (let i = 0; i < RUNS; i += 10_000) batch(i, Math.min(RUNS, i + 10_000));
  sqlite.pragma("optimize");
  return performance.now() - t0;
}

const pct = (xs: number[], p: number) => {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor((p / 100) * s.length))];
};
const median = (xs: number[]) => pct(xs, 50);

async function timed(fn: () => Promise<Response> | Response, consume = false): Promise<{ ms: number; cpuMs: number; bytes: number; status: number }> {
  const c0 = process.cpuUsage();
  const t = performance.now();
  const res = await fn();
  let bytes = 0;
  if (consume && res.body) {
    const reader = res.body.getReader();
    for (;;) {
      const { done, value } = await reader.read();
      if (done) break;
      bytes += value.byteLength;
    }
  } else bytes = (await res.arrayBuffer()).byteLength;
  const ms = performance.now() - t;
  const c = process.cpuUsage(c0);
  if (res.status >= 300) throw new Error(`status ${res.status}`);
  return { ms, cpuMs: (c.user + c.system) / 1000, bytes, status: res.status };
}

const url = (p: string) => new Request(`http://localhost${p}`);

async function main() {
  let fillMs = 0;
  if (REUSE) console.log(`reusing ${DB_FILE}`);
  else {
    console.log(`filling ${DB_FILE} with ${RUNS} synthetic runs...`);
    fillMs = fill();
  }
  const counts = getDb().$client.prepare("SELECT (SELECT count(*) FROM runs) AS runs, (SELECT count(*) FROM run_metrics) AS metrics").get() as {
    runs: number;
    metrics: number;
  };
  console.log(`filled ${counts.runs} runs, ${counts.metrics} metric rows in ${(fillMs / 1000).toFixed(1)} s`);
  if (MIXED_ONLY) return mixedOnly();

  // GET /runs: 50 pages of 100 with varied filters and metric sorts.
  const families = ["quantization", "pruning", "tokens", "speculative", "baseline"];
  const sorts = ["-metric.accuracy", "metric.perplexity", "metric.latency_ms_p50", "-metric.tokens_per_s", "-createdAt"];
  const queries: string[] = [];
  for (let i = 0; i < 50; i++) {
    const f = [
      `family=${families[i % 5]}`,
      `runtime=${RUNTIMES[i % 6]}&status=succeeded`,
      `method=${METHODS[i % METHODS.length].id}`,
      "metric.accuracy>=0.6",
      `tag=sweep-a&family=${families[i % 5]}`,
    ][Math.floor(i / 5) % 5];
    queries.push(`/api/v1/runs?includeSynthetic=1&limit=100&sort=${encodeURIComponent(sorts[i % sorts.length])}&${f}`);
  }
  await timed(() => runsRoute.GET(url(queries[0])));
  const pageMs: number[] = [];
  const pageCpu: number[] = [];
  for (const q of queries) {
    const r = await timed(() => runsRoute.GET(url(q)));
    pageMs.push(r.ms);
    pageCpu.push(r.cpuMs);
  }
  // the second page through a cursor costs the same as the first
  const first = (await (await runsRoute.GET(url(queries[0]))).json()) as { nextCursor: string; total: number };
  const nextMs = (await timed(() => runsRoute.GET(url(`${queries[0]}&cursor=${first.nextCursor}`)))).ms;

  // The README's example query: a family and a metric range, sorted by another metric (each
  // candidate run's metric read by its (run_id, key) primary key), 21 repeats after one warm-up.
  const readmeQ = "/api/v1/runs?includeSynthetic=1&family=quantization&metric.perplexity<=12&sort=metric.decode_ms_per_token";
  await timed(() => runsRoute.GET(url(readmeQ)));
  const readmeMs: number[] = [];
  for (let i = 0; i < 21; i++) readmeMs.push((await timed(() => runsRoute.GET(url(readmeQ)))).ms);

  // GET /pareto over every run. Metric columns are cached until the next write, so a repeated
  // request reads them from memory: "cold" empties the cache before each request (the first
  // request after any write), "warm" repeats the request with the columns cached (filtering and
  // fronts are recomputed either way).
  const pq = "/api/v1/pareto?includeSynthetic=1&x=latency_ms_p50&y=accuracy&group=family";
  await timed(() => paretoRoute.GET(url(pq)));
  const paretoColdMs: number[] = [];
  const paretoColdCpu: number[] = [];
  for (let i = 0; i < 7; i++) {
    paretoColumnCache.clear();
    const r = await timed(() => paretoRoute.GET(url(pq)));
    paretoColdMs.push(r.ms);
    paretoColdCpu.push(r.cpuMs);
  }
  const paretoMs: number[] = [];
  const paretoCpu: number[] = [];
  for (let i = 0; i < 7; i++) {
    const r = await timed(() => paretoRoute.GET(url(pq)));
    paretoMs.push(r.ms);
    paretoCpu.push(r.cpuMs);
  }
  // The explorer's request: two charts at once, on a filter change (a different family each time,
  // so the filter and the fronts are new while the three columns are warm), and cold.
  const two = "/api/v1/pareto?includeSynthetic=1&x=decode_ms_per_token,model_bytes&y=accuracy&group=family";
  const twoColdMs: number[] = [];
  const twoWarmMs: number[] = [];
  for (let i = 0; i < 7; i++) {
    paretoColumnCache.clear();
    twoColdMs.push((await timed(() => paretoRoute.GET(url(`${two}&family=${families[i % 5]}`)))).ms);
    twoWarmMs.push((await timed(() => paretoRoute.GET(url(`${two}&family=${families[(i + 1) % 5]}`)))).ms);
  }
  const paretoBody = (await (await paretoRoute.GET(url(pq))).json()) as { total: number; groups: { front: unknown[] }[] };
  const pq2 = "/api/v1/pareto?includeSynthetic=1&x=model_bytes&y=perplexity&group=hardware";
  const pareto2Ms: number[] = [];
  for (let i = 0; i < 5; i++) pareto2Ms.push((await timed(() => paretoRoute.GET(url(pq2)))).ms);

  // Full CSV export.
  const csvMs: number[] = [];
  const csvCpu: number[] = [];
  let csvBytes = 0;
  for (let i = 0; i < 3; i++) {
    const r = await timed(() => exportRoute.GET(url("/api/v1/export?includeSynthetic=1&format=csv")), true);
    csvMs.push(r.ms);
    csvCpu.push(r.cpuMs);
    csvBytes = r.bytes;
  }

  // Batch ingest: 10,000-point bodies through the route (JSON parse + zod + one transaction).
  const runId = (getDb().$client.prepare("SELECT max(id) AS id FROM runs").get() as { id: number }).id;
  const batchMs: number[] = [];
  const batchCpu: number[] = [];
  const firstStep = (getDb().$client.prepare("SELECT coalesce(max(step) + 1, 0) AS s FROM metric_points WHERE run_id = ?").get(runId) as { s: number }).s;
  for (let b = 0; b < 20; b++) {
    const points = Array.from({ length: 10_000 }, (_, i) => ({
      key: i % 2 ? "train/loss" : "train/lr",
      step: firstStep + b * 5000 + (i >> 1),
      value: Math.sin(i),
    }));
    const body = JSON.stringify({ points });
    const req = new Request(`http://localhost/api/v1/runs/${runId}/metrics`, { method: "POST", body, headers: { "content-type": "application/json" } });
    const r = await timed(() => pointsRoute.POST(req, { params: Promise.resolve({ id: String(runId) }) }));
    batchMs.push(r.ms);
    batchCpu.push(r.cpuMs);
  }
  const sum = (xs: number[]) => xs.reduce((a, b) => a + b, 0);
  const ingestRate = (batchMs.length * 10_000) / (sum(batchMs) / 1000);
  const ingestRateCpu = (batchMs.length * 10_000) / (sum(batchCpu) / 1000);

  const results = {
    machine: { cpu: cpuModel(), cores: os.cpus().length, node: process.version, date: new Date().toISOString() },
    runs: counts.runs,
    metricRows: counts.metrics,
    fillSeconds: fillMs / 1000,
    loadAverage: os.loadavg(),
    runsPage: {
      requests: pageMs.length,
      p50ms: median(pageMs),
      p95ms: pct(pageMs, 95),
      maxMs: Math.max(...pageMs),
      cpuP50ms: median(pageCpu),
      cpuP95ms: pct(pageCpu, 95),
      secondPageMs: nextMs,
      readmeExampleP50ms: median(readmeMs),
    },
    pareto: {
      coldMedianMs: median(paretoColdMs),
      coldCpuMedianMs: median(paretoColdCpu),
      medianMs: median(paretoMs),
      cpuMedianMs: median(paretoCpu),
      twoChartsFilterChange: { coldMedianMs: median(twoColdMs), warmMedianMs: median(twoWarmMs) },
      points: paretoBody.total,
      frontPoints: paretoBody.groups.reduce((n, g) => n + g.front.length, 0),
      byHardwareMedianMs: median(pareto2Ms),
    },
    csvExport: { medianMs: median(csvMs), cpuMedianMs: median(csvCpu), runsMs: csvMs, bytes: csvBytes },
    ingest: { pointsPerSecond: ingestRate, pointsPerCpuSecond: ingestRateCpu, medianBatchMs: median(batchMs), batches: batchMs.length },
  };
  console.log(JSON.stringify(results, null, 2));
  const ok = (b: boolean) => (b ? "ok" : "MISSED");
  console.log(
    `load average during the run: ${os
      .loadavg()
      .map((l) => l.toFixed(1))
      .join(" ")} on ${os.cpus().length} cores`,
  );
  console.log(
    `runs page p50 ${results.runsPage.p50ms.toFixed(1)} ms, p95 ${results.runsPage.p95ms.toFixed(1)} ms (cpu p50 ${results.runsPage.cpuP50ms.toFixed(1)} ms) (target p50 <= 50): ${ok(results.runsPage.p50ms <= 50)}`,
  );
  console.log(
    `README example (family=quantization&metric.perplexity<=12&sort=metric.decode_ms_per_token) p50 ${results.runsPage.readmeExampleP50ms.toFixed(1)} ms (target <= 50): ${ok(results.runsPage.readmeExampleP50ms <= 50)}`,
  );
  const pr = results.pareto;
  console.log(
    `pareto cold (columns read from SQLite) median ${pr.coldMedianMs.toFixed(1)} ms (cpu ${pr.coldCpuMedianMs.toFixed(1)} ms) (target <= 150): ${ok(pr.coldMedianMs <= 150)}`,
  );
  console.log(
    `pareto warm (columns cached, fronts recomputed) median ${pr.medianMs.toFixed(1)} ms (cpu ${pr.cpuMedianMs.toFixed(1)} ms) (target <= 150): ${ok(pr.medianMs <= 150)}`,
  );
  console.log(
    `pareto two charts on a filter change: cold median ${pr.twoChartsFilterChange.coldMedianMs.toFixed(1)} ms, warm median ${pr.twoChartsFilterChange.warmMedianMs.toFixed(1)} ms (target <= 200)`,
  );
  console.log(
    `csv export median ${(results.csvExport.medianMs / 1000).toFixed(2)} s (cpu ${(results.csvExport.cpuMedianMs / 1000).toFixed(2)} s) (target <= 3): ${ok(results.csvExport.medianMs <= 3000)}`,
  );
  console.log(`ingest ${Math.round(ingestRate)} points/s (per cpu-second ${Math.round(ingestRateCpu)}) (target >= 100000): ${ok(ingestRate >= 100_000)}`);
  closeDb();
  reportMixed(await mixedLoad({ dbFile: DB_FILE }));
}

/** The README example query: 21 repeats after one warm-up, in-process. */
async function readmeExample(): Promise<{ ms: number[]; cpuMs: number[] }> {
  const readmeQ = "/api/v1/runs?includeSynthetic=1&family=quantization&metric.perplexity<=12&sort=metric.decode_ms_per_token";
  await timed(() => runsRoute.GET(url(readmeQ)));
  const ms: number[] = [];
  const cpuMs: number[] = [];
  for (let i = 0; i < 21; i++) {
    const r = await timed(() => runsRoute.GET(url(readmeQ)));
    ms.push(r.ms);
    cpuMs.push(r.cpuMs);
  }
  return { ms, cpuMs };
}

async function mixedOnly() {
  const readme = await readmeExample();
  const p50 = median(readme.ms);
  console.log(
    `README example (family=quantization&metric.perplexity<=12&sort=metric.decode_ms_per_token) p50 ${p50.toFixed(1)} ms (cpu p50 ${median(readme.cpuMs).toFixed(1)} ms; load average ${os
      .loadavg()
      .map((l) => l.toFixed(1))
      .join(" ")}) (target <= 50): ${p50 <= 50 ? "ok" : "MISSED"}`,
  );
  closeDb();
  reportMixed(await mixedLoad({ dbFile: DB_FILE }));
}

function reportMixed(m: MixedResult) {
  console.log(JSON.stringify({ mixedLoad: m, loadAverage: os.loadavg() }, null, 2));
  console.log(
    `mixed load: ${m.clients} clients, ${m.requests} requests in ${m.seconds.toFixed(1)} s over HTTP on loopback (token mode); ` +
      `process CPU ${m.cpuSeconds.toFixed(1)} s (${((m.cpuSeconds * 1000) / m.requests).toFixed(1)} ms per request, clients included)`,
  );
  for (const [label, e] of Object.entries(m.endpoints)) {
    console.log(
      `  ${label.padEnd(28)} n=${String(e.requests).padStart(4)}  p50 ${e.p50ms.toFixed(1).padStart(7)} ms  p95 ${e.p95ms.toFixed(1).padStart(7)} ms`,
    );
  }
  const i = m.integrity;
  console.log(
    `  errors ${m.errors} (target 0): ${m.errors === 0 ? "ok" : "MISSED"}; runs created ${m.runsCreated}, leased ${m.leased}, completed ${m.completed}; ` +
      `lost ${i.lostRuns}, duplicated ${i.duplicateRuns}, leased twice ${i.doubleLeased}, metric points missing ${i.pointsMissing}: ${i.ok ? "ok" : "MISSED"}`,
  );
  for (const e of m.errorSamples) console.log(`  error: ${e}`);
  if (m.errors > 0 || !i.ok) process.exitCode = 1;
}

function cpuModel(): string {
  try {
    const line = execSync("lscpu", { encoding: "utf8" })
      .split("\n")
      .find((l) => l.startsWith("Model name"));
    if (line) return line.split(":")[1].trim();
  } catch {
    // lscpu is missing on some systems; os.cpus() still names the model
  }
  return os.cpus()[0]?.model ?? "unknown";
}

await main();
