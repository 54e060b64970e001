import { type ChildProcess, execFileSync, spawn } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";

/**
 * A second server for the token-mode specs: `npm start`'s script with FRONTIER_AUTH=token on its
 * own port, database and data directory (no local worker), and one API token made with
 * `npm run token`. `stop` ends the server and removes the directory.
 */
export interface TokenServer {
  base: string;
  token: string;
  dir: string;
  stop: () => Promise<void>;
}

export async function startTokenServer(opts: { port: number; read: "open" | "token"; name: string; modelRootsInDir?: boolean }): Promise<TokenServer> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), `frontier-e2e-${opts.name}-`));
  const base = `http://127.0.0.1:${opts.port}`;
  const env = {
    ...process.env,
    PORT: String(opts.port),
    HOST: "127.0.0.1",
    FRONTIER_AUTH: "token",
    FRONTIER_READ: opts.read,
    FRONTIER_LOCAL_WORKER: "0",
    ...(opts.modelRootsInDir ? { FRONTIER_MODEL_ROOTS: dir } : {}),
    FRONTIER_DB: path.join(dir, "frontier.db"),
    FRONTIER_DATA_DIR: path.join(dir, "data"),
  };
  const out = execFileSync(process.execPath, ["--import", "tsx", "scripts/token.ts", "create", "--name", `e2e-${opts.name}`], { env, encoding: "utf8" });
  const token = /^(ft_\S+)$/m.exec(out)![1];
  const server: ChildProcess = spawn(process.execPath, ["--import", "tsx", "scripts/start.ts"], { env, stdio: "ignore" });
  const stop = async () => {
    if (server.exitCode === null) {
      const exited = new Promise((r) => server.once("exit", r));
      server.kill("SIGTERM");
      await exited;
    }
    fs.rmSync(dir, { recursive: true, force: true });
  };
  for (let i = 0; i < 1200; i++) {
    try {
      if ((await fetch(`${base}/api/v1/health`)).ok) return { base, token, dir, stop };
    } catch {}
    await new Promise((r) => setTimeout(r, 250));
  }
  await stop();
  throw new Error(`the ${opts.name} server did not answer /api/v1/health within 300 s`);
}
