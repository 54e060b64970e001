/**
 * The worker's main loop: lease a run, execute it in a child process while heartbeating, report
 * the outcome, repeat. Idle polling backs off from 1 s to 5 s. `stop()` (SIGTERM) stops leasing and
 * gives the current job a grace period before killing it and returning the run to the queue.
 *
 * Each job gets a fresh child process, forked and loaded before the lease is taken: a lease is
 * never held while a process boots (about 1 s on a busy 2-core box, measured 2026-11-27), and an
 * idle worker starts its next job at once. Heartbeats begin the moment a lease is granted.
 */
import path from "node:path";
import { ApiError, type WorkerClient } from "./client";
import { JobProcess, type JobOutcome, type KillReason } from "./job/supervisor";
import type { LogLevel } from "./job/messages";
import type { EngineOptions } from "./execute";
import type { Runtime } from "./types";
import { jobSpecIn } from "./job/spec";
import type { LeasedRun } from "../lib/schemas/workers";

export interface LeaseLoopOptions {
  client: WorkerClient;
  runtimes: Runtime[];
  /** Each run's workDir is created under `<dataDir>/runs/`. */
  dataDir: string;
  idleMinMs?: number;
  idleMaxMs?: number;
  /** How long a running job may continue after stop() before it is killed. */
  graceMs?: number;
  /** Evaluation settings passed to every job (e.g. `{ bench: { ...DEFAULT_BENCH, repeats: 20 } }`). */
  engine?: Partial<EngineOptions>;
  log?: (line: string) => void;
}

export interface RunReport {
  runId: number;
  outcome: JobOutcome["kind"];
  /** From the lease request to the server's answer to complete/fail. */
  wallMs: number;
  /** Inside executeJob (null when the job never reported). */
  executeMs: number | null;
  overheadMs: number | null;
}

/** Resolves after `ms`, or at once when `signal` aborts; leaves no listener behind either way. */
const sleep = (ms: number, signal: AbortSignal) =>
  new Promise<void>((resolve) => {
    if (signal.aborted) return resolve();
    const onAbort = () => {
      clearTimeout(t);
      resolve();
    };
    const t = setTimeout(() => {
      signal.removeEventListener("abort", onAbort);
      resolve();
    }, ms);
    signal.addEventListener("abort", onAbort, { once: true });
  });

const MAX_LOGS_PER_BEAT = 500;
const MAX_LOG_CHARS = 10_000;

/**
 * Retries a report when the server could not be reached (1, 2, 4, 8 s); an answer from the server,
 * even an error, is final. A finished job's result is worth more than one dropped connection.
 */
async function withRetries<T>(call: () => Promise<T>): Promise<T> {
  for (let attempt = 0; ; attempt++) {
    try {
      return await call();
    } catch (e) {
      if (e instanceof ApiError || attempt >= 4) throw e;
      await new Promise((r) => setTimeout(r, 1000 * 2 ** attempt));
    }
  }
}

export class LeaseLoop {
  private stopping = new AbortController();
  private stopped = new Promise<void>((resolve) => this.stopping.signal.addEventListener("abort", () => resolve(), { once: true }));
  private current: JobProcess | null = null;
  private graceTimer: NodeJS.Timeout | null = null;
  /** The next job's process, forked and loaded while the worker waits for work. */
  private spare: JobProcess | null = null;
  readonly reports: RunReport[] = [];
  private readonly o: Required<Omit<LeaseLoopOptions, "client" | "runtimes" | "dataDir" | "engine">> & LeaseLoopOptions;

  constructor(opts: LeaseLoopOptions) {
    this.o = {
      idleMinMs: 1000,
      idleMaxMs: 5000,
      graceMs: 30_000,
      log: (line) => console.log(`[worker] ${line}`),
      ...opts,
    };
  }

  /** Stops leasing; the current job has `graceMs` to finish, then it is killed and its run requeued. */
  stop(): void {
    if (this.stopping.signal.aborted) return;
    this.stopping.abort();
    if (this.current) this.armGrace();
    else this.o.log("stopping");
  }

  private armGrace(): void {
    if (this.graceTimer) return;
    this.o.log(`stopping: waiting up to ${this.o.graceMs} ms for the current job to finish`);
    this.graceTimer = setTimeout(() => this.current?.kill("shutdown"), this.o.graceMs);
  }

  /** The spare job process once it has loaded; a dead spare is replaced. */
  private async readySpare(): Promise<JobProcess> {
    for (;;) {
      if (!this.spare?.usable) this.spare = new JobProcess();
      const spare = this.spare;
      await Promise.race([spare.ready, this.stopped]);
      if (this.stopping.signal.aborted || spare.usable) return spare;
      const crash = await spare.done;
      this.o.log(`job process failed to start (${crash.kind === "crash" ? crash.message : crash.kind}); forking another in 1 s`);
      this.spare = null;
      await sleep(1000, this.stopping.signal);
    }
  }

  async run(): Promise<void> {
    let idle = this.o.idleMinMs;
    while (!this.stopping.signal.aborted) {
      await this.readySpare();
      if (this.stopping.signal.aborted) break;
      const t0 = performance.now();
      let lease: LeasedRun | null;
      try {
        lease = await this.o.client.lease(this.o.runtimes);
      } catch (e) {
        if (e instanceof ApiError && e.status === 401) throw new Error(`the server no longer accepts this worker's token: ${e.message}`);
        this.o.log(`lease request failed (${(e as Error).message}); retrying in ${idle} ms`);
        await sleep(idle, this.stopping.signal);
        idle = Math.min(this.o.idleMaxMs, idle * 2);
        continue;
      }
      if (!lease) {
        await sleep(idle, this.stopping.signal);
        idle = Math.min(this.o.idleMaxMs, idle * 2);
        continue;
      }
      idle = this.o.idleMinMs;
      this.reports.push(await this.execute(lease, t0));
    }
    if (this.graceTimer) clearTimeout(this.graceTimer);
    if (this.spare) {
      this.spare.kill("shutdown");
      await this.spare.done;
      this.spare = null;
    }
  }

  private async execute(lease: LeasedRun, t0: number): Promise<RunReport> {
    const { client, log } = this.o;
    const runId = lease.runId;

    let job: JobProcess | null = null;
    /** Set when the server says stop before the job process was handed the job. */
    let stopBeforeStart: KillReason | null = null;
    let leaseLost = false;
    let stage: string | undefined;
    let progress: number | undefined;
    let logs: { level: LogLevel; message: string; ts: number }[] = [];
    const kill = (reason: KillReason) => (job ? job.kill(reason) : (stopBeforeStart ??= reason));

    const beat = async () => {
      // The server takes up to 1000 lines of up to 10,000 characters per heartbeat; the rest waits.
      const batch = logs
        .splice(0, MAX_LOGS_PER_BEAT)
        .map((l) => (l.message.length > MAX_LOG_CHARS ? { ...l, message: l.message.slice(0, MAX_LOG_CHARS - 1) + "…" } : l));
      try {
        const r = await client.heartbeat(runId, {
          leaseToken: lease.leaseToken,
          ...(stage !== undefined ? { stage } : {}),
          ...(progress !== undefined ? { progress: Math.min(1, Math.max(0, progress)) } : {}),
          logs: batch,
        });
        if (r.canceled) {
          log(`run ${runId} was canceled: killing job process ${job?.pid ?? "(not started)"}`);
          kill("canceled");
        }
      } catch (e) {
        if (e instanceof ApiError && e.status === 409) {
          leaseLost = true;
          log(`run ${runId}: lease lost (${e.message}); killing job process ${job?.pid ?? "(not started)"}`);
          kill("lease-lost");
        } else if (e instanceof ApiError && e.status === 400) {
          // Sending the same lines again would be refused again and starve the lease: drop them.
          log(`run ${runId}: heartbeat refused (${e.message}); ${batch.length} log lines dropped`);
        } else {
          // A transient failure: keep the lines for the next beat; the lease outlives several misses.
          logs = batch.concat(logs);
          log(`run ${runId}: heartbeat failed (${(e as Error).message})`);
        }
      }
    };
    /** Sends what the job logged since the last beat before the final report (bounded: the server may be down). */
    const flushLogs = async () => {
      for (let i = 0; i < 10 && logs.length > 0 && !leaseLost; i++) await beat();
    };
    // Six beats per lease: a run survives several lost heartbeats before its lease can expire.
    const intervalMs = Math.max(100, Math.floor(lease.leaseMs / 6));
    let beating: Promise<void> = Promise.resolve();
    const timer = setInterval(() => {
      beating = beating.then(beat);
    }, intervalMs);

    let outcome: JobOutcome;
    try {
      const workDir = path.resolve(this.o.dataDir, "runs", String(runId), `attempt-${lease.attempt}`);
      const spec = jobSpecIn(lease, workDir, path.resolve(this.o.dataDir));
      job = await this.readySpare();
      this.spare = null;
      if (stopBeforeStart) {
        // The job was never handed over: this process is still a good spare.
        this.spare = job;
        outcome = { kind: "killed", reason: stopBeforeStart };
      } else {
        job.start(
          spec,
          {
            stage: (name, p) => ((stage = name), p !== undefined && (progress = p)),
            progress: (f) => (progress = f),
            log: (level, message, ts) => logs.push({ level, message, ts }),
          },
          this.o.engine,
        );
        this.current = job;
        if (this.stopping.signal.aborted) this.armGrace();
        log(`run ${runId} (${lease.methodId}, attempt ${lease.attempt} of ${lease.maxAttempts}): job process pid ${job.pid}`);
        logs.push({ level: "info", message: `job process pid ${job.pid} started (attempt ${lease.attempt})`, ts: Date.now() });
        beating = beating.then(beat);
        outcome = await job.done;
        // Fork the next job's process now, not during this job: a sibling loading ORT would disturb
        // the latency this job measures; here its start-up overlaps the reporting below.
        if (!this.stopping.signal.aborted) this.spare = new JobProcess();
      }
    } catch (e) {
      outcome = { kind: "crash", message: `worker could not start the job: ${(e as Error).message}` };
    } finally {
      clearInterval(timer);
      await beating;
      this.current = null;
    }

    try {
      if (leaseLost || (outcome.kind === "killed" && outcome.reason !== "shutdown")) {
        // Canceled or fenced off: the server already knows; nothing to report.
      } else if (outcome.kind === "result") {
        await flushLogs();
        if (!leaseLost) {
          const r = outcome.result;
          try {
            await withRetries(() =>
              client.complete(runId, {
                leaseToken: lease.leaseToken,
                metrics: r.metrics,
                artifacts: r.artifacts,
                hardware: r.hardware,
                ...(r.baselineMetrics ? { baselineMetrics: r.baselineMetrics } : {}),
                notes: r.notes,
              }),
            );
          } catch (e) {
            // A result the server refuses (a NaN metric, a bad key) would be refused again on
            // every attempt: fail the run with the reason instead of letting the lease expire.
            if (!(e instanceof ApiError) || e.status !== 400) throw e;
            await withRetries(() =>
              client.fail(runId, { leaseToken: lease.leaseToken, error: `the server rejected the job's result: ${e.message}`, retryable: false }),
            );
            log(`run ${runId}: result rejected (${e.message}); run failed`);
          }
        }
      } else if (outcome.kind === "error" || outcome.kind === "crash") {
        await flushLogs();
        const retryable = outcome.kind === "crash" || outcome.retryable;
        const f = await withRetries(() => client.fail(runId, { leaseToken: lease.leaseToken, error: outcome.message, retryable }));
        log(`run ${runId} attempt ${lease.attempt} failed (${outcome.message}); run is now ${f.status}`);
      } else {
        const f = await withRetries(() => client.fail(runId, { leaseToken: lease.leaseToken, error: "worker shutting down", retryable: true }));
        log(`run ${runId}: job killed after the shutdown grace period; run is now ${f.status}`);
      }
    } catch (e) {
      log(`run ${runId}: could not report the outcome (${(e as Error).message})`);
    }

    const wallMs = performance.now() - t0;
    const executeMs = outcome.kind === "result" || outcome.kind === "error" ? outcome.executeMs : null;
    const overheadMs = executeMs === null ? null : wallMs - executeMs;
    const kind = leaseLost ? `${outcome.kind} (lease lost, not reported)` : outcome.kind === "killed" ? `killed (${outcome.reason})` : outcome.kind;
    log(
      `run ${runId} ${kind} in ${wallMs.toFixed(0)} ms` +
        (overheadMs === null || leaseLost
          ? ""
          : `; worker overhead ${overheadMs.toFixed(0)} ms (${((100 * overheadMs) / wallMs).toFixed(1)}% of wall time, executeJob ${executeMs!.toFixed(0)} ms)`),
    );
    return { runId, outcome: outcome.kind, wallMs, executeMs, overheadMs };
  }
}
