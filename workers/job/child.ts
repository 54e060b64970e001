/**
 * Entry point of a job's child process (forked by supervisor.ts with tsx's loader). It loads the
 * executor at once (the worker forks the next child while idle, so this cost is off the run's
 * clock), then receives one JobSpec over IPC, runs executeJob with a reporter that streams
 * stage/progress/log messages back, sends the result or the error, and exits. Running here, heavy
 * inference cannot starve the worker's heartbeats, and a crash (including the OOM killer's SIGKILL)
 * costs one attempt only.
 */
import type { JobReporter } from "../types";
import type { ChildMessage, ParentMessage } from "./messages";

function send(msg: ChildMessage): Promise<void> {
  return new Promise((resolve) => {
    if (!process.send) return resolve();
    process.send(msg, undefined, {}, () => resolve());
  });
}

/** Errors whose cause is this machine rather than the run (another worker may succeed). */
function isRetryable(e: unknown): boolean {
  if (!(e instanceof Error)) return false;
  if ((e as { retryable?: unknown }).retryable === true) return true;
  return e.constructor?.name === "RuntimeUnavailableError";
}

const errorMessage = (e: unknown) => (e instanceof Error ? e.message || e.name : String(e));

if (!process.send) {
  console.error("workers/job/child.ts is started by the worker over IPC, not by hand");
  process.exit(2);
}

const executor = import("../execute").then(
  (m) => ({ ok: true as const, executeJob: m.executeJob }),
  (e: unknown) => ({ ok: false as const, error: e }),
);

async function run(msg: ParentMessage): Promise<void> {
  const loaded = await executor;
  if (!loaded.ok) {
    // A broken install on this worker says nothing about the run: let another worker try.
    await send({ type: "error", message: `could not load the job executor: ${errorMessage(loaded.error)}`, retryable: true, executeMs: 0 });
    return;
  }
  const reporter: JobReporter = {
    stage: (name, progress) => void send({ type: "stage", name, ...(progress !== undefined ? { progress } : {}) }),
    progress: (fraction) => void send({ type: "progress", fraction }),
    log: (message, level = "info") => void send({ type: "log", level, message, ts: Date.now() }),
  };
  const t0 = performance.now();
  try {
    const result = await loaded.executeJob(msg.spec, reporter, msg.engine ?? {});
    await send({ type: "result", result, executeMs: performance.now() - t0 });
  } catch (e) {
    await send({ type: "error", message: errorMessage(e), retryable: isRetryable(e), executeMs: performance.now() - t0 });
  }
}

process.once("message", (msg: ParentMessage) => {
  if (msg?.type !== "run") {
    console.error(`job child: unexpected message ${JSON.stringify(msg)}`);
    process.exit(2);
  }
  run(msg).then(
    // ORT thread pools can keep the event loop alive; the result is already delivered.
    () => process.exit(0),
    (e) => {
      console.error(e);
      process.exit(1);
    },
  );
});
// A spare child whose worker went away must not linger.
process.once("disconnect", () => process.exit(0));
// Ctrl-C in a terminal signals the whole process group; the worker decides whether this job
// finishes within the shutdown grace period or is killed.
process.on("SIGINT", () => {});
void executor.then(() => send({ type: "ready", pid: process.pid }));
