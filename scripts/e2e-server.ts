/**
 * The server Playwright tests against: `npm start` exactly (scripts/start.ts: migrate, register the
 * zoo, build if stale, next start, local worker) on its own port with a fresh temporary database
 * and data directory, removed again on exit.
 */
import { spawn } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { createRequire } from "node:module";

const require = createRequire(import.meta.url);
const port = process.env.E2E_PORT ?? "3100";
const dir = fs.mkdtempSync(path.join(os.tmpdir(), "frontier-e2e-"));

const child = spawn(process.execPath, [require.resolve("tsx/cli"), path.join(process.cwd(), "scripts", "start.ts")], {
  stdio: "inherit",
  env: {
    ...process.env,
    PORT: port,
    HOST: "127.0.0.1",
    FRONTIER_DB: path.join(dir, "frontier.db"),
    FRONTIER_DATA_DIR: path.join(dir, "data"),
    // The specs register models and datasets they write to temporary directories.
    FRONTIER_MODEL_ROOTS: [path.join(process.cwd(), "zoo"), path.join(dir, "data"), os.tmpdir()].join(path.delimiter),
  },
});

function cleanup() {
  fs.rmSync(dir, { recursive: true, force: true });
}
for (const sig of ["SIGINT", "SIGTERM"] as const) {
  process.on(sig, () => {
    child.kill(sig);
  });
}
child.on("exit", (code) => {
  cleanup();
  process.exit(code ?? 0);
});
