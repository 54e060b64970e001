/**
 * Real worker processes against the test API server: a tiny decoder written with the engine's
 * builder, a perplexity dataset, and helpers to queue runs, start `workers/main.ts` and wait on
 * the database.
 */
import { spawn, type ChildProcess } from "node:child_process";
import fs from "node:fs";
import path from "node:path";
import { eq } from "drizzle-orm";
import { writeDecoder } from "../../workers/onnx/decoder-builder";
import { datasets, models, runEvents, runMetrics, runs } from "../../db/schema";
import type { ApiServer } from "../helpers/api-server";

export const ENROLL = "enroll-token-for-worker-tests";

/** 2 layers, hidden 64: a baseline job (perplexity + latency benchmark) takes about a second here. */
export function registerTinyModel(api: ApiServer, id = "tiny"): void {
  const dir = path.join(api.dir, "models", id);
  const written = writeDecoder(
    dir,
    {
      vocab_size: 300,
      num_layers: 2,
      num_heads: 4,
      num_kv_heads: 2,
      hidden_size: 64,
      intermediate_size: 128,
      max_position: 160,
    },
    { seed: 11 },
  );
  api.db
    .insert(models)
    .values({ id, name: id, kind: "decoder-lm", source: "path", files: { dir, ...written.files }, bytes: written.bytes, params: written.params })
    .run();
  const file = path.join(api.dir, `${id}-text.jsonl`);
  const words = ["the", "model", "runs", "fast", "on", "small", "boxes", "and", "slow", "ones"];
  const lines = Array.from({ length: 24 }, (_, i) =>
    JSON.stringify({ text: Array.from({ length: 40 }, (_, j) => words[(i * 7 + j * 3) % words.length]).join(" ") }),
  );
  fs.writeFileSync(file, lines.join("\n") + "\n");
  api.db
    .insert(datasets)
    .values({ id: `${id}-text`, name: "text", task: "perplexity", file })
    .run();
  // its validation split, which calibrated methods draw from (never from the scored text)
  const validation = path.join(api.dir, `${id}-text-validation.jsonl`);
  const vlines = Array.from({ length: 12 }, (_, i) =>
    JSON.stringify({ text: Array.from({ length: 40 }, (_, j) => words[(i * 5 + j * 7 + 1) % words.length]).join(" ") }),
  );
  fs.writeFileSync(validation, vlines.join("\n") + "\n");
  api.db
    .insert(datasets)
    .values({ id: `${id}-text-validation`, name: "text (validation)", task: "perplexity", split: "validation", file: validation })
    .run();
}

const ZOO_DIR = path.resolve(import.meta.dirname, "../../zoo");

/** Registers a zoo model (zoo/<id>) on the test server, as `npm start` does. */
export function registerZooModel(api: ApiServer, id: string): void {
  const dir = path.join(ZOO_DIR, id);
  api.db
    .insert(models)
    .values({ id, name: id, kind: "decoder-lm", source: "zoo", files: { dir, model: "model.onnx", tokenizer: "tokenizer.json", config: "config.json" } })
    .run();
}

/** Registers the first `n` examples of a zoo dataset (zoo/datasets/<from>.jsonl) as dataset `id`, to keep a run short. */
export function registerZooSlice(api: ApiServer, id: string, from: string, task: (typeof datasets.$inferInsert)["task"], n: number): void {
  const file = path.join(api.dir, `${id}.jsonl`);
  const lines = fs
    .readFileSync(path.join(ZOO_DIR, "datasets", `${from}.jsonl`), "utf8")
    .split("\n")
    .filter((l) => l.trim());
  fs.writeFileSync(file, `${lines.slice(0, n).join("\n")}\n`);
  api.db
    .insert(datasets)
    .values({ id, name: `${from} (first ${n})`, task, file })
    .run();
}

/** POSTs JSON to the test server (with a bearer token when given); the answer's status and parsed body. */
export async function postJson(api: ApiServer, p: string, body: unknown, token?: string): Promise<{ status: number; json: any }> {
  const headers = { "content-type": "application/json", ...(token ? { authorization: `Bearer ${token}` } : {}) };
  const r = await fetch(`${api.url}${p}`, { method: "POST", headers, body: JSON.stringify(body) });
  const text = await r.text();
  return { status: r.status, json: text ? JSON.parse(text) : null };
}

export function queueBaseline(api: ApiServer, over: Partial<typeof runs.$inferInsert> = {}): number {
  return api.db
    .insert(runs)
    .values({ methodId: "baseline", family: "baseline", params: {}, modelId: "tiny", datasetId: "tiny-text", runtime: "cpu", seed: 1, ...over })
    .returning({ id: runs.id })
    .get().id;
}

export const runRow = (api: ApiServer, id: number) => api.db.select().from(runs).where(eq(runs.id, id)).get()!;
/** A run's final metrics as { key: value }. */
export const metricValues = (api: ApiServer, id: number): Record<string, number> =>
  Object.fromEntries(
    api.db
      .select()
      .from(runMetrics)
      .where(eq(runMetrics.runId, id))
      .all()
      .map((x) => [x.key, x.value]),
  );
export const events = (api: ApiServer, id: number) => api.db.select().from(runEvents).where(eq(runEvents.runId, id)).all();

export interface WorkerProc {
  proc: ChildProcess;
  /** Everything the worker printed so far. */
  output(): string;
  /** Resolves with the first match of `re` in the worker's output. */
  waitFor(re: RegExp, timeoutMs?: number): Promise<RegExpMatchArray>;
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  stop(): Promise<void>;
}

/** Node's arguments for one cpu worker (`workers/main.ts` through tsx) enrolling with the test API server. */
export function workerArgv(api: ApiServer, name: string, dataDir = path.join(api.dir, name)): string[] {
  return ["--import", "tsx", "workers/main.ts", "--server", api.url, "--name", name, "--runtimes", "cpu", "--data-dir", dataDir];
}

/** A worker's environment: the enrollment token travels there, never on the command line. */
export function workerEnv(token = ENROLL, extra: Record<string, string> = {}): NodeJS.ProcessEnv {
  return { ...process.env, FRONTIER_ENROLL_TOKEN: token, ...extra };
}

/** `ownGroup`: the worker leads its own process group, so a test can signal it like a terminal does. */
export function startWorker(api: ApiServer, name: string, extraArgs: string[] = [], env: Record<string, string> = {}, ownGroup = false): WorkerProc {
  const proc = spawn(process.execPath, [...workerArgv(api, name), ...extraArgs], {
    cwd: process.cwd(),
    env: workerEnv(ENROLL, env),
    stdio: ["ignore", "pipe", "pipe"],
    detached: ownGroup,
  });
  let out = "";
  const waiters: { re: RegExp; resolve: (m: RegExpMatchArray) => void }[] = [];
  const onData = (d: Buffer) => {
    out += d.toString();
    for (const w of [...waiters]) {
      const m = out.match(w.re);
      if (m) {
        waiters.splice(waiters.indexOf(w), 1);
        w.resolve(m);
      }
    }
  };
  proc.stdout!.on("data", onData);
  proc.stderr!.on("data", onData);
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
    proc.once("exit", (code, signal) => resolve({ code, signal })),
  );
  return {
    proc,
    output: () => out,
    waitFor(re, timeoutMs = 20_000) {
      const m = out.match(re);
      if (m) return Promise.resolve(m);
      return new Promise((resolve, reject) => {
        const w = { re, resolve: (x: RegExpMatchArray) => (clearTimeout(t), resolve(x)) };
        const t = setTimeout(() => {
          waiters.splice(waiters.indexOf(w), 1);
          reject(new Error(`worker ${name} did not print ${re} within ${timeoutMs} ms; output:\n${out}`));
        }, timeoutMs);
        waiters.push(w);
      });
    },
    exited,
    async stop() {
      if (proc.exitCode === null && proc.signalCode === null) proc.kill("SIGTERM");
      await exited;
    },
  };
}

/** Polls `check` (a database read) until it returns a value, or fails with `what`. */
export async function until<T>(what: string, check: () => T | null | undefined | false, timeoutMs = 20_000): Promise<T> {
  const end = Date.now() + timeoutMs;
  for (;;) {
    const v = check();
    if (v) return v;
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

export function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}
