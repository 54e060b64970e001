/**
 * Peak memory of one model in a fresh process: forks rss-probe.ts with the same Node and tsx loader
 * the worker uses for job children (workers/job/supervisor.ts), hands it the model over IPC and
 * waits for its figures. The job's own process has held other models (the fp32 baseline next to a
 * quantized one) and its allocator keeps what they left, so its VmHWM says little about any one.
 */
import { fork } from "node:child_process";
import path from "node:path";
import { fileURLToPath } from "node:url";
import type { Runtime } from "../types";
import type { OpenDecoderOptions } from "./decoder-session";

const PROBE = path.join(path.dirname(fileURLToPath(import.meta.url)), "rss-probe.ts");
const STDERR_TAIL = 2000;

export interface ProbeRequest {
  modelPath: string;
  runtime: Runtime;
  decoder?: OpenDecoderOptions;
  promptLength: number;
  decodeTokens: number;
  /** Benchmark requests run after loading (the first one grows the arenas; later ones reuse them). */
  requests: number;
  seed: number;
}

export type ProbeReply =
  | {
      type: "result";
      /** VmHWM in bytes; null off Linux. */
      peakRssBytes: number | null;
      /** VmRSS after the runtime was loaded, before the model was. */
      rssBeforeModelBytes: number | null;
      /** False when VmHWM could not be reset, so the peak also covers the process's start-up. */
      peakReset: boolean;
      gpuBufferBytes: number | null;
    }
  | { type: "error"; message: string };

export type MemoryFigures = Extract<ProbeReply, { type: "result" }>;

/** Runs the probe for one model; rejects with the probe's error, exit code or signal. */
export function probeMemory(req: ProbeRequest): Promise<MemoryFigures> {
  return new Promise((resolve, reject) => {
    const child = fork(PROBE, [], {
      execArgv: ["--import", "tsx", "--expose-gc"],
      stdio: ["ignore", "ignore", "pipe", "ipc"],
      cwd: process.cwd(),
      env: process.env,
    });
    let reply: ProbeReply | null = null;
    let stderr = "";
    child.stderr?.on("data", (chunk: Buffer) => (stderr = (stderr + chunk.toString("utf8")).slice(-STDERR_TAIL)));
    child.on("message", (msg: ProbeReply) => (reply = msg));
    child.once("error", (e) => reject(new Error(`memory probe could not start: ${e.message}`)));
    child.once("exit", (code, signal) => {
      const r = reply as ProbeReply | null;
      if (r?.type === "result") return resolve(r);
      const tail = stderr.trim().split("\n").slice(-3).join(" | ");
      const why =
        r?.type === "error" ? r.message : signal ? `killed by ${signal}${signal === "SIGKILL" ? " (out of memory?)" : ""}` : `exited with code ${code}`;
      reject(new Error(`memory probe for ${path.basename(req.modelPath)}: ${why}${tail && r?.type !== "error" ? `; stderr: ${tail}` : ""}`));
    });
    child.send(req, (e) => {
      if (e) child.kill("SIGKILL");
    });
  });
}
