/**
 * `npm run worker -- --server URL [--name N] [--runtimes cpu,wasm] [--data-dir DIR]
 *                   [--bench-repeats N] [--bench-warmup N]`
 *
 * --bench-repeats / --bench-warmup change how many timed (and discarded warm-up) requests the
 * latency benchmark of every job on this worker runs (defaults in workers/eval/bench.ts); more
 * repeats give steadier p95 figures at the cost of longer jobs.
 * Probes the ONNX Runtime back ends this machine can run, registers with the server using the
 * enrollment token, then leases and executes runs until SIGTERM/SIGINT. Environment:
 * FRONTIER_ENROLL_TOKEN or FRONTIER_ENROLL_TOKEN_FILE (the server's enrollment token; never a
 * command-line argument, which any user of the machine can read in the process list),
 * FRONTIER_WORKER_GRACE_MS (shutdown grace for the current job, default 30000),
 * FRONTIER_DATA_DIR (work directories, default ./data).
 */
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { parseArgs } from "node:util";
import { envSetting } from "../lib/env";
import { ApiError, WorkerClient } from "./client";
import { LeaseLoop } from "./lease-loop";
import { hardwareFingerprint, probeRuntimes, SERVER_RUNTIMES } from "./runtimes";
import { DEFAULT_BENCH } from "./eval/bench";
import type { HardwareFingerprint, Runtime } from "./types";

const log = (line: string) => console.log(`[worker] ${line}`);

function fail(message: string): never {
  console.error(`[worker] ${message}`);
  process.exit(1);
}

/** A setting from the environment, its default and check in lib/env.ts; a bad value ends the worker. */
function setting<K extends Parameters<typeof envSetting>[0]>(key: K): ReturnType<typeof envSetting<K>> {
  try {
    return envSetting(key);
  } catch (e) {
    fail((e as Error).message);
  }
}

// The enrollment token is a secret: on the command line it would show in `ps` and shell history.
if (process.argv.some((a) => a === "--token" || a.startsWith("--token="))) {
  fail(
    "--token is no longer accepted (a token on the command line is visible to every user of this machine): " +
      "set FRONTIER_ENROLL_TOKEN, or FRONTIER_ENROLL_TOKEN_FILE to a file holding it",
  );
}

const { values } = parseArgs({
  options: {
    server: { type: "string" },
    name: { type: "string" },
    runtimes: { type: "string" },
    "data-dir": { type: "string" },
    "bench-repeats": { type: "string" },
    "bench-warmup": { type: "string" },
  },
  strict: true,
});
if (!values.server) fail("--server URL is required (e.g. --server http://localhost:3000)");
/** The enrollment token from FRONTIER_ENROLL_TOKEN, else the first line of FRONTIER_ENROLL_TOKEN_FILE. */
function enrollmentToken(): string {
  const direct = setting("FRONTIER_ENROLL_TOKEN");
  if (direct) return direct;
  const file = setting("FRONTIER_ENROLL_TOKEN_FILE");
  if (!file) fail("the server's enrollment token is required: set FRONTIER_ENROLL_TOKEN, or FRONTIER_ENROLL_TOKEN_FILE to a file holding it");
  let text: string;
  try {
    text = fs.readFileSync(file, "utf8");
  } catch (e) {
    fail(`FRONTIER_ENROLL_TOKEN_FILE: cannot read ${file}: ${(e as Error).message}`);
  }
  const t = text.split("\n")[0].trim();
  if (t.length < 16) fail(`FRONTIER_ENROLL_TOKEN_FILE: ${file} does not hold an enrollment token (at least 16 characters on its first line)`);
  return t;
}
const token = enrollmentToken();
const name = values.name ?? os.hostname();
const dataDir = path.resolve(values["data-dir"] ?? setting("FRONTIER_DATA_DIR"));
const graceMs = setting("FRONTIER_WORKER_GRACE_MS");

function countArg(flag: string, raw: string | undefined, min: number): number | undefined {
  if (raw === undefined) return undefined;
  const n = Number(raw);
  if (!Number.isInteger(n) || n < min || n > 10_000) fail(`--${flag} must be an integer from ${min} to 10000, got "${raw}"`);
  return n;
}
const repeats = countArg("bench-repeats", values["bench-repeats"], 1);
const warmup = countArg("bench-warmup", values["bench-warmup"], 0);
const bench = { ...(repeats !== undefined ? { repeats } : {}), ...(warmup !== undefined ? { warmup } : {}) };
const engine = Object.keys(bench).length > 0 ? { bench: { ...DEFAULT_BENCH, ...bench } } : undefined;

let candidates: Runtime[] = [...SERVER_RUNTIMES];
if (values.runtimes) {
  const asked = values.runtimes
    .split(",")
    .map((s) => s.trim())
    .filter(Boolean);
  const unknown = asked.filter((r) => !SERVER_RUNTIMES.includes(r as Runtime));
  if (unknown.length > 0) fail(`--runtimes: unknown or non-server runtime(s) ${unknown.join(", ")}; choose from ${SERVER_RUNTIMES.join(", ")}`);
  candidates = asked as Runtime[];
}

const probe = await probeRuntimes(candidates);
log(`${name}: ${probe.summary}`);
if (probe.available.length === 0) fail("no runtime works on this machine; nothing to offer");
const hardware: Partial<Record<Runtime, HardwareFingerprint>> = {};
for (const r of probe.available) hardware[r] = await hardwareFingerprint(r);

const client = new WorkerClient(values.server);
let registered: { workerId: string } | null = null;
// The server may still be starting (npm start launches both): retry for about a minute.
for (let attempt = 0; !registered; attempt++) {
  try {
    registered = await client.register(token, { name, capabilities: { runtimes: probe.available }, hardware });
  } catch (e) {
    if (e instanceof ApiError && e.status < 500) fail(`registration refused: ${e.message}`);
    if (e instanceof ApiError && e.status === 503) fail(`registration refused: ${e.message}`);
    if (attempt >= 30) fail(`could not reach ${values.server}: ${(e as Error).message}`);
    await new Promise((r) => setTimeout(r, 2000));
  }
}
log(`registered as ${registered.workerId}; leasing ${probe.available.join(", ")} runs from ${values.server}`);

if (engine) log(`benchmark settings for every job: ${JSON.stringify(engine.bench)}`);
const loop = new LeaseLoop({ client, runtimes: probe.available, dataDir, graceMs, engine, log });
for (const sig of ["SIGTERM", "SIGINT"] as const) {
  process.on(sig, () => {
    log(`${sig} received`);
    loop.stop();
  });
}
try {
  await loop.run();
} catch (e) {
  fail((e as Error).message);
}
log("stopped");
process.exit(0);
