/**
 * Entry point of a memory probe: a fresh process (forked by memory-probe.ts with tsx's loader, the
 * way the job child is) that loads one model on one runtime, runs benchmark requests on it and
 * reports its peak resident set (VmHWM) and, under webgpu, its peak GPU buffer bytes. Nothing else
 * is loaded in it, so a quantized model is never charged for the fp32 model a job also ran.
 */
import fs from "node:fs";
import { openRuntime } from "../runtimes";
import { openDecoder } from "./decoder-session";
import { timeRequests } from "./bench";
import { peakRssBytes, resetPeakRss } from "./rss";
import type { ProbeReply, ProbeRequest } from "./memory-probe";

function send(msg: ProbeReply): Promise<void> {
  return new Promise((resolve) => (process.send ? process.send(msg, undefined, {}, () => resolve()) : resolve()));
}

function rssBytes(): number | null {
  try {
    const m = /VmRSS:\s+(\d+)\s+kB/.exec(fs.readFileSync("/proc/self/status", "utf8"));
    return m ? Number(m[1]) * 1024 : null;
  } catch {
    return null;
  }
}

async function probe(req: ProbeRequest): Promise<ProbeReply> {
  const handle = await openRuntime(req.runtime);
  (globalThis as { gc?: () => void }).gc?.();
  // The peak then starts from the process with the runtime loaded (Node, tsx, ORT), not from
  // whatever start-up touched once.
  const reset = resetPeakRss();
  const before = rssBytes();
  handle.gpu?.resetPeak();
  const decoder = await openDecoder(req.modelPath, req.runtime, req.decoder);
  try {
    await timeRequests(decoder, { promptLength: req.promptLength, decodeTokens: req.decodeTokens, warmup: 0, repeats: req.requests }, req.seed);
  } finally {
    await decoder.release();
  }
  return {
    type: "result",
    peakRssBytes: peakRssBytes(),
    rssBeforeModelBytes: before,
    peakReset: reset,
    gpuBufferBytes: handle.gpu ? handle.gpu.peakBytes : null,
  };
}

if (!process.send) {
  console.error("workers/eval/rss-probe.ts is started by memory-probe.ts over IPC, not by hand");
  process.exit(2);
}
process.once("message", (req: ProbeRequest) => {
  probe(req).then(
    async (reply) => {
      await send(reply);
      // ORT thread pools can keep the event loop alive; the figure is delivered.
      process.exit(0);
    },
    async (e: unknown) => {
      await send({ type: "error", message: e instanceof Error ? e.message : String(e) });
      process.exit(1);
    },
  );
});
process.once("disconnect", () => process.exit(0));
