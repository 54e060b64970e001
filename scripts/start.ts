/**
 * `npm start`: migrate the embedded database, register the bundled zoo and the shape models, build the app if the build
 * is missing or older than the sources, then serve it and launch one local CPU worker.
 */
import { spawn, spawnSync, type ChildProcess } from "node:child_process";
import crypto from "node:crypto";
import fs from "node:fs";
import path from "node:path";
import { openDb, dbPath } from "../db/client";
import { parseEnv } from "../lib/env";
import { registerBundled } from "../db/queries/bundled";
import { registerShapeModels } from "../db/queries/shape-models";
import { REGISTERED_SHAPE_MODELS, shapeModelRegistration } from "../workers/onnx/shape-cache";
import { createRequire } from "node:module";

const require = createRequire(import.meta.url);

const root = process.cwd();
const env = parseEnv();
const loopback = /^(127\.\d+\.\d+\.\d+|localhost|::1|\[::1\])$/i.test(env.HOST);
// Serving other machines without tokens would let anyone who reaches the port write: refuse before touching anything.
if (!loopback && env.FRONTIER_AUTH !== "token") {
  console.error(
    `[frontier] refusing to start: HOST=${env.HOST} serves other machines, which needs FRONTIER_AUTH=token ` +
      "(writes then need an API token: create one with `npm run token -- create --name NAME`). " +
      "Keep the default HOST=127.0.0.1 to serve this machine only without tokens.",
  );
  process.exit(1);
}
const dataDir = path.resolve(env.FRONTIER_DATA_DIR ?? path.join(root, "data"));
fs.mkdirSync(dataDir, { recursive: true, mode: 0o700 });

function log(msg: string) {
  console.log(`[frontier] ${msg}`);
}

/**
 * Where the server and the local worker find the enrollment token: FRONTIER_ENROLL_TOKEN as given, else a file
 * (FRONTIER_ENROLL_TOKEN_FILE, or data/enroll-token generated on first start) that the server re-reads on every
 * registration, so `npm run token -- rotate-enroll` takes effect without a restart.
 */
function enrollEnv(): Record<string, string> {
  if (env.FRONTIER_ENROLL_TOKEN) return { FRONTIER_ENROLL_TOKEN: env.FRONTIER_ENROLL_TOKEN };
  const file = path.resolve(env.FRONTIER_ENROLL_TOKEN_FILE ?? path.join(dataDir, "enroll-token"));
  if (!fs.existsSync(file)) fs.writeFileSync(file, crypto.randomBytes(24).toString("hex") + "\n", { mode: 0o600 });
  return { FRONTIER_ENROLL_TOKEN: "", FRONTIER_ENROLL_TOKEN_FILE: file };
}

function newestMtime(dir: string): number {
  let newest = 0;
  for (const entry of fs.readdirSync(dir, { withFileTypes: true })) {
    if (entry.name === "node_modules" || entry.name.startsWith(".")) continue;
    const p = path.join(dir, entry.name);
    if (entry.isDirectory()) newest = Math.max(newest, newestMtime(p));
    else if (/\.(tsx?|css)$/.test(entry.name)) newest = Math.max(newest, fs.statSync(p).mtimeMs);
  }
  return newest;
}

function buildIfNeeded() {
  const buildId = path.join(root, ".next", "BUILD_ID");
  const sources = Math.max(...["app", "components", "lib", "db"].map((d) => newestMtime(path.join(root, d))));
  if (fs.existsSync(buildId) && fs.statSync(buildId).mtimeMs >= sources) return;
  log("building the web app (first start or sources changed; about a minute)…");
  const r = spawnSync(process.execPath, [require.resolve("next/dist/bin/next"), "build"], { stdio: "inherit", env: process.env });
  if (r.status !== 0) {
    console.error("[frontier] next build failed");
    process.exit(r.status ?? 1);
  }
}

const db = openDb();
log(`database ${dbPath()} migrated`);
const registered = registerBundled(root, db);
log(`registered ${registered.models} bundled models and ${registered.datasets} datasets`);
const shapes = registerShapeModels(
  REGISTERED_SHAPE_MODELS.map((n) => shapeModelRegistration(n)),
  db,
);
log(`registered ${shapes} shape models (random weights, speed and memory only; each worker generates them on first use)`);
db.$client.close();

buildIfNeeded();

const childEnv = { ...process.env, ...enrollEnv(), PORT: String(env.PORT) };
const children: ChildProcess[] = [];
const server = spawn(process.execPath, [require.resolve("next/dist/bin/next"), "start", "-p", String(env.PORT), "-H", env.HOST], {
  stdio: "inherit",
  env: childEnv,
});
children.push(server);
/** Where this process and the local worker reach the server: the bound address itself, or loopback for a wildcard bind. */
function localUrl(host: string, port: number): string {
  const h = host === "0.0.0.0" || host === "::" || host === "[::]" ? "127.0.0.1" : host;
  return `http://${h.includes(":") && !h.startsWith("[") ? `[${h}]` : h}:${port}`;
}
const url = localUrl(env.HOST, env.PORT);

async function waitForServer(): Promise<void> {
  for (let i = 0; i < 600; i++) {
    try {
      const r = await fetch(`${url}/api/v1/health`);
      if (r.ok) return;
    } catch {}
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error("server did not answer /api/v1/health within 60 s");
}

waitForServer()
  .then(() => {
    const auth = env.FRONTIER_AUTH === "token" ? `token mode, reads ${env.FRONTIER_READ}` : "local mode, no tokens";
    if (loopback) {
      log(`Frontier is listening on ${url} (this machine only, ${auth}; set HOST=0.0.0.0 and FRONTIER_AUTH=token to serve other machines)`);
    } else {
      log(`Frontier is listening on ${env.HOST}:${env.PORT} (reach it here at ${url}; ${auth})`);
    }
    if (env.FRONTIER_LOCAL_WORKER === "1" && fs.existsSync(path.join(root, "workers", "main.ts"))) {
      const worker = spawn(process.execPath, [require.resolve("tsx/cli"), path.join(root, "workers", "main.ts"), "--server", url, "--name", "local"], {
        stdio: "inherit",
        env: childEnv,
      });
      children.push(worker);
      worker.on("exit", (code, signal) => {
        // The app keeps serving (runs can still be logged and other workers can lease), but say so.
        if (!shuttingDown) log(`local worker exited (${signal ?? code}); queued runs wait for another worker`);
      });
      log("local CPU worker started");
    }
  })
  .catch((e) => {
    console.error(`[frontier] ${(e as Error).message}`);
    shutdown(1);
  });

let shuttingDown = false;
function shutdown(code = 0) {
  shuttingDown = true;
  for (const c of children) if (c.exitCode === null) c.kill("SIGTERM");
  setTimeout(() => process.exit(code), 3000).unref();
}
process.on("SIGINT", () => shutdown(0));
process.on("SIGTERM", () => shutdown(0));
server.on("exit", (code) => {
  log(`server exited (${code})`);
  shutdown(code ?? 0);
});
