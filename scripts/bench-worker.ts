/**
 * `npm run bench:worker -- [--runs N]`: the worker's own overhead per run.
 *
 * Starts the test API server (real route handlers over a temp SQLite file), registers two decoders
 * written with the engine's builder, queues N baseline runs on each back to back, and runs one real
 * worker process (`workers/main.ts`, cpu) until all have finished. The worker logs, per run, the
 * wall time from its lease request to the server's answer to complete, and the time spent inside
 * executeJob; the difference (lease and complete round trips, heartbeats, waiting for the job's
 * child process to start, IPC) is the overhead reported here as a median per model.
 */
import { spawn } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { parseArgs } from "node:util";
import { eq, inArray } from "drizzle-orm";
import { startApiServer } from "../tests/helpers/api-server";
import { workerArgv, workerEnv } from "../tests/worker/fixtures";
import { datasets, models, runs } from "../db/schema";
import { writeDecoder } from "../workers/onnx/decoder-builder";
import type { DecoderConfigInput } from "../workers/onnx/decoder-config";

const { values } = parseArgs({ options: { runs: { type: "string", default: "5" } } });
const N = Number(values.runs);
if (!Number.isInteger(N) || N < 1 || N > 100) throw new Error(`--runs must be an integer from 1 to 100, got "${values.runs}"`);

const ENROLL = "bench-worker-enrollment-token";
const api = await startApiServer({ env: { FRONTIER_ENROLL_TOKEN: ENROLL } });

const SIZES: Record<string, DecoderConfigInput> = {
  "tiny (2 layers, hidden 64)": { vocab_size: 300, num_layers: 2, num_heads: 4, num_kv_heads: 2, hidden_size: 64, intermediate_size: 128, max_position: 192 },
  "small (4 layers, hidden 256)": {
    vocab_size: 2048,
    num_layers: 4,
    num_heads: 8,
    num_kv_heads: 4,
    hidden_size: 256,
    intermediate_size: 768,
    max_position: 512,
  },
};

const words = ["the", "model", "runs", "fast", "on", "small", "boxes", "and", "slow", "ones", "while", "workers", "lease", "jobs"];
const text = path.join(api.dir, "text.jsonl");
fs.writeFileSync(
  text,
  Array.from({ length: 64 }, (_, i) => JSON.stringify({ text: Array.from({ length: 60 }, (_, j) => words[(i * 5 + j * 3) % words.length]).join(" ") })).join(
    "\n",
  ) + "\n",
);
api.db.insert(datasets).values({ id: "text", name: "text", task: "perplexity", file: text }).run();

const runIds = new Map<number, string>();
for (const [label, config] of Object.entries(SIZES)) {
  const id = label.split(" ")[0];
  const dir = path.join(api.dir, "models", id);
  const w = writeDecoder(dir, config, { seed: 3 });
  api.db
    .insert(models)
    .values({ id, name: label, kind: "decoder-lm", source: "path", files: { dir, ...w.files }, params: w.params, bytes: w.bytes })
    .run();
  for (let i = 0; i < N; i++) {
    const r = api.db
      .insert(runs)
      .values({ methodId: "baseline", family: "baseline", params: {}, modelId: id, datasetId: "text", runtime: "cpu", seed: i })
      .returning({ id: runs.id })
      .get();
    runIds.set(r.id, label);
  }
}

const worker = spawn(process.execPath, workerArgv(api, "bench", path.join(api.dir, "worker")), {
  stdio: ["ignore", "pipe", "inherit"],
  env: workerEnv(ENROLL),
});
let out = "";
worker.stdout.on("data", (d: Buffer) => (out += d.toString()));
const ids = [...runIds.keys()];
for (;;) {
  const open = api.db
    .select({ id: runs.id })
    .from(runs)
    .where(inArray(runs.status, ["queued", "leased", "running"]))
    .all();
  if (open.length === 0) break;
  if (worker.exitCode !== null) throw new Error(`worker exited early:\n${out}`);
  await new Promise((r) => setTimeout(r, 200));
}
worker.kill("SIGTERM");
await new Promise((r) => worker.once("exit", r));

const failed = ids.filter((id) => api.db.select().from(runs).where(eq(runs.id, id)).get()!.status !== "succeeded");
if (failed.length > 0) throw new Error(`runs ${failed.join(", ")} did not succeed:\n${out}`);

const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[s.length >> 1] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
};
const byLabel = new Map<string, { wall: number; overhead: number; exec: number }[]>();
for (const m of out.matchAll(/run (\d+) result in (\d+) ms; worker overhead (-?\d+) ms \([\d.]+% of wall time, executeJob (\d+) ms\)/g)) {
  const label = runIds.get(Number(m[1]))!;
  if (!byLabel.has(label)) byLabel.set(label, []);
  byLabel.get(label)!.push({ wall: Number(m[2]), overhead: Number(m[3]), exec: Number(m[4]) });
}
const cpu = os.cpus()[0]?.model ?? "unknown CPU";
console.log(
  `worker overhead, ${N} baseline runs per model queued back to back, cpu runtime, ${cpu} ×${os.availableParallelism()}, load average ${os.loadavg()[0].toFixed(1)}, ${new Date().toISOString()}`,
);
console.log("| model | runs | median executeJob ms | median lease→complete ms | median overhead ms | median overhead % | back-to-back overhead % |");
console.log("| --- | --- | --- | --- | --- | --- | --- |");
for (const [label, rows] of byLabel) {
  const pct = rows.map((r) => (100 * r.overhead) / r.wall);
  // Back to back: from the first lease to the last completion of the group (server clock), so the
  // gaps between runs (forking and loading the next job's process) count too.
  const group = ids.filter((id) => runIds.get(id) === label).map((id) => api.db.select().from(runs).where(eq(runs.id, id)).get()!);
  const span = Math.max(...group.map((r) => r.finishedAt!)) - Math.min(...group.map((r) => r.startedAt!));
  const exec = rows.reduce((a, r) => a + r.exec, 0);
  console.log(
    `| ${label} | ${rows.length} | ${median(rows.map((r) => r.exec)).toFixed(0)} | ${median(rows.map((r) => r.wall)).toFixed(0)} | ${median(rows.map((r) => r.overhead)).toFixed(0)} | ${median(pct).toFixed(1)} | ${((100 * (span - exec)) / span).toFixed(1)} |`,
  );
}
await api.close();
fs.rmSync(api.dir, { recursive: true, force: true });
