/**
 * Runs one job in a child process (child.ts, forked with tsx's loader) and turns whatever happens
 * to it into one outcome: a result, an error the job reported, a crash (non-zero exit or a signal,
 * e.g. the OOM killer's SIGKILL), or a kill the worker asked for (cancel, lost lease, shutdown).
 * A JobProcess is forked before its job is known (`new`, then `start(spec)`), so the worker can keep
 * one spare child loaded while it waits for work: each job still gets a fresh process.
 */
import { fork, type ChildProcess } from "node:child_process";
import path from "node:path";
import { fileURLToPath } from "node:url";
import type { JobResult, JobSpec } from "../types";
import type { EngineOptions } from "../execute";
import type { ChildMessage, LogLevel, ParentMessage } from "./messages";

const CHILD = path.join(path.dirname(fileURLToPath(import.meta.url)), "child.ts");
const STDERR_TAIL = 2000;

export type KillReason = "canceled" | "lease-lost" | "shutdown";

export type JobOutcome =
  | { kind: "result"; result: JobResult; executeMs: number }
  | { kind: "error"; message: string; retryable: boolean; executeMs: number }
  | { kind: "crash"; message: string }
  | { kind: "killed"; reason: KillReason };

export interface JobEvents {
  stage?(name: string, progress?: number): void;
  progress?(fraction: number): void;
  log?(level: LogLevel, message: string, ts: number): void;
}

export class JobProcess {
  readonly child: ChildProcess;
  readonly done: Promise<JobOutcome>;
  stage = "starting";
  private killReason: KillReason | null = null;
  private reply: Extract<JobOutcome, { kind: "result" | "error" }> | null = null;
  private stderrTail = "";
  private events: JobEvents = {};
  private started = false;
  /** Resolves when the child has loaded the executor, or when it died before that (see `done`). */
  readonly ready: Promise<void>;

  constructor() {
    this.child = fork(CHILD, [], {
      execArgv: ["--import", "tsx"],
      stdio: ["ignore", "inherit", "pipe", "ipc"],
      cwd: process.cwd(),
      env: process.env,
    });
    this.child.stderr?.on("data", (chunk: Buffer) => {
      process.stderr.write(chunk);
      this.stderrTail = (this.stderrTail + chunk.toString("utf8")).slice(-STDERR_TAIL);
    });
    let markReady: () => void = () => {};
    this.ready = new Promise<void>((resolve) => (markReady = resolve));
    const events = () => this.events;
    this.child.on("message", (msg: ChildMessage) => {
      switch (msg.type) {
        case "ready":
          markReady();
          break;
        case "stage":
          this.stage = msg.name;
          events().stage?.(msg.name, msg.progress);
          break;
        case "progress":
          events().progress?.(msg.fraction);
          break;
        case "log":
          events().log?.(msg.level, msg.message, msg.ts);
          break;
        case "result":
          this.reply = { kind: "result", result: msg.result, executeMs: msg.executeMs };
          break;
        case "error":
          this.reply = { kind: "error", message: msg.message, retryable: msg.retryable, executeMs: msg.executeMs };
          break;
      }
    });
    this.done = new Promise<JobOutcome>((resolve) => {
      this.child.once("exit", (code, signal) => resolve(this.outcome(code, signal)));
      this.child.once("error", (e) => {
        // fork itself failed (no such file, out of pids): nothing ran, so another try may work.
        if (this.child.exitCode === null && this.child.pid === undefined) {
          resolve({ kind: "crash", message: `could not start the job process: ${e.message}` });
        }
      });
    });
    this.done.then(markReady);
  }

  /** Whether this child can still take a job (alive and not yet given one). */
  get usable(): boolean {
    return !this.started && this.child.exitCode === null && this.child.signalCode === null && this.child.connected;
  }

  /** Hands the child its one job; `done` resolves with the outcome. */
  start(spec: JobSpec, events: JobEvents = {}, engine?: Partial<EngineOptions>): void {
    if (this.started) throw new Error("a job process runs exactly one job");
    this.started = true;
    this.events = events;
    const msg: ParentMessage = { type: "run", spec, ...(engine ? { engine } : {}) };
    // A child that died meanwhile surfaces through `done` as a crash; the send error adds nothing.
    this.child.send(msg, () => {});
  }

  get pid(): number | undefined {
    return this.child.pid;
  }

  /** SIGKILL: a job stuck in native inference code would ignore anything gentler. */
  kill(reason: KillReason): void {
    if (this.killReason === null) this.killReason = reason;
    if (this.child.exitCode === null && this.child.signalCode === null) this.child.kill("SIGKILL");
  }

  private outcome(code: number | null, signal: NodeJS.Signals | null): JobOutcome {
    if (this.reply) return this.reply;
    if (this.killReason) return { kind: "killed", reason: this.killReason };
    if (!this.started) this.stage = "startup (before the job was handed over)";
    const tail = this.stderrTail.trim().split("\n").slice(-5).join("\n");
    const where = `at stage ${this.stage}`;
    let message: string;
    if (signal === "SIGKILL") message = `job process was killed by SIGKILL (out of memory?) ${where}`;
    else if (signal) message = `job process was killed by ${signal} ${where}`;
    else if (code !== 0) message = `job process exited with code ${code} ${where}`;
    else message = `job process exited without reporting a result ${where}`;
    return { kind: "crash", message: tail ? `${message}; stderr: ${tail}` : message };
  }
}
