/**
 * `npm run bench:engine`: prefill and decode latency plus peak memory of the shape models (random
 * weights, real architecture) on every runtime that starts here, and the memory-bandwidth bound
 * for decode. Results go to stdout as a Markdown block for docs/BENCHMARKS.md ("## Engine").
 *
 * Each (model, runtime) pair runs in its own child process so its peak RSS is its own.
 * Options: --models=125m,1b --runtimes=cpu,webgpu --prompt=128 --decode=32 --warmup=1 --repeats=5
 *          --shapes=data/shapes (where the shape models are generated once and reused)
 */
import { spawnSync } from "node:child_process";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { performance } from "node:perf_hooks";
import { benchmarkModel } from "../workers/eval/bench";
import { modelStats } from "../workers/eval/model-stats";
import { probeRuntimes } from "../workers/runtimes";
import type { Runtime } from "../workers/types";

const self = fileURLToPath(import.meta.url);

function arg(name: string, fallback: string): string {
  const hit = process.argv.find((a) => a.startsWith(`--${name}=`));
  return hit ? hit.slice(name.length + 3) : fallback;
}

interface ChildResult {
  metrics: Record<string, number>;
  decodeMs: number[];
  prefillMs: number[];
  adapter?: { vendor: string; architecture: string; description: string };
}

async function child(): Promise<void> {
  const [modelPath, runtime, optsJson] = process.argv.slice(3);
  const opts = JSON.parse(optsJson) as { promptLength: number; decodeTokens: number; warmup: number; repeats: number };
  const r = await benchmarkModel(modelPath, runtime as Runtime, { ...opts, seed: 1 });
  const { openRuntime } = await import("../workers/runtimes");
  const h = await openRuntime(runtime as Runtime);
  const out: ChildResult = { metrics: r.metrics, decodeMs: r.samples.decodeMs, prefillMs: r.samples.prefillMs, adapter: h.adapter };
  process.stdout.write(`RESULT ${JSON.stringify(out)}\n`);
}

/**
 * Memory bandwidth by a large typed-array copy on one thread (Float64Array.prototype.set, a
 * memcpy): bytes moved = 2 x size per copy (one read, one write). Both arrays are touched first so
 * page faults are not timed. The fastest of 9 copies is reported: on a shared machine slower
 * copies measure the neighbours, not the memory.
 */
export function copyBandwidth(bytes = 512 * 2 ** 20): { bytesPerSecond: number; bytes: number } {
  const n = bytes / 8;
  const src = new Float64Array(n);
  const dst = new Float64Array(n);
  for (let i = 0; i < n; i += 512) src[i] = i;
  dst.set(src);
  const times: number[] = [];
  for (let r = 0; r < 9; r++) {
    const t = performance.now();
    dst.set(src);
    times.push((performance.now() - t) / 1000);
  }
  return { bytesPerSecond: (2 * bytes) / Math.min(...times), bytes };
}

async function ensureShapeModels(names: string[], dir: string): Promise<Map<string, string>> {
  const { ensureShapeModel } = await import("../workers/onnx/shapes");
  const out = new Map<string, string>();
  for (const name of names) {
    const t = performance.now();
    const file = await ensureShapeModel(name, dir);
    const took = (performance.now() - t) / 1000;
    if (took > 1) console.error(`generated shape model ${name} in ${took.toFixed(0)} s`);
    out.set(name, file);
  }
  return out;
}

async function main(): Promise<void> {
  const names = arg("models", "125m,1b").split(",");
  const wanted = arg("runtimes", "cpu,webgpu").split(",") as Runtime[];
  const shapesDir = path.resolve(arg("shapes", path.join("data", "shapes")));
  const opts = {
    promptLength: Number(arg("prompt", "128")),
    decodeTokens: Number(arg("decode", "32")),
    warmup: Number(arg("warmup", "1")),
    repeats: Number(arg("repeats", "5")),
  };
  const probe = await probeRuntimes(wanted);
  console.error(probe.summary);
  const models = await ensureShapeModels(names, shapesDir);
  const loadBefore = os.loadavg()[0];
  let bw = copyBandwidth();
  const cpu = os.cpus();
  const rows: string[] = [];
  for (const [name, file] of models) {
    const stats = modelStats(file);
    // A decode step reads every weight once, except the embedding table, of which it gathers one row.
    const embed = stats.tensors.find((t) => t.name === "embed_tokens.weight")?.bytes ?? 0;
    const hasHead = stats.tensors.some((t) => t.name === "lm_head.weight");
    const streamed = stats.weightsBytes - (hasHead ? embed : 0);
    for (const runtime of probe.available) {
      // Measured next to each run: the load on a shared machine changes from minute to minute.
      bw = copyBandwidth();
      const t = performance.now();
      const res = spawnSync(process.execPath, ["--import", "tsx", self, "--child", file, runtime, JSON.stringify(opts)], {
        encoding: "utf8",
        maxBuffer: 64 * 2 ** 20,
      });
      const line = res.stdout.split("\n").find((l) => l.startsWith("RESULT "));
      if (res.status !== 0 || !line) {
        console.error(`${name} on ${runtime} failed (exit ${res.status}):\n${res.stderr.slice(-2000)}`);
        continue;
      }
      const r = JSON.parse(line.slice(7)) as ChildResult;
      const m = r.metrics;
      const kvRead = m.kv_cache_bytes; // upper end: the cache at the end of the request
      const boundMs = ((streamed + kvRead) / bw.bytesPerSecond) * 1000;
      console.error(`${name} on ${runtime}: ${((performance.now() - t) / 1000).toFixed(0)} s`);
      rows.push(
        `| ${name} | ${runtime}${r.adapter ? ` (${r.adapter.vendor} ${r.adapter.architecture})` : ""} | ${(stats.weightsBytes / 1e9).toFixed(2)} GB | ` +
          `${m.prefill_ms.toFixed(1)} | ${m.decode_ms_per_token.toFixed(2)} | ${m.tokens_per_s.toFixed(1)} | ${m.latency_ms_p50.toFixed(0)} / ${m.latency_ms_p95.toFixed(0)} | ` +
          `${(m.peak_rss_bytes / 2 ** 30).toFixed(2)} GiB | ${(bw.bytesPerSecond / 1e9).toFixed(1)} | ${boundMs.toFixed(2)} | ${((boundMs / m.decode_ms_per_token) * 100).toFixed(0)}% |`,
      );
    }
  }
  const loadAfter = os.loadavg()[0];
  const webgpuLine = probe.available.includes("webgpu")
    ? ""
    : `\nwebgpu: skipped (${probe.unavailable.find((u) => u.runtime === "webgpu")?.reason ?? "not requested"}).\n`;
  console.log(`Command: \`npm run bench:engine\` (prompt ${opts.promptLength} tokens, ${opts.decodeTokens} decode steps, ${opts.warmup} warmup + ${opts.repeats} timed requests per model and runtime; each in its own process)
Machine: ${cpu[0]?.model.trim()} x${cpu.length} cores, ${(os.totalmem() / 2 ** 30).toFixed(0)} GiB, ${process.platform}-${process.arch}, Node ${process.version}. Date: ${new Date().toISOString().slice(0, 10)}. 1-minute load average ${loadBefore.toFixed(1)} before, ${loadAfter.toFixed(1)} after (other work shared the cores when above ${cpu.length}).
Memory bandwidth: one-thread copy of a ${bw.bytes / 2 ** 20} MiB Float64Array (read + write bytes / fastest of 9 copies), measured just before each run. Bandwidth bound = (weight bytes read per decode step: all initializers except the gathered embedding table, which is read in full only when it is tied to the LM head, + the KV cache at the end of the request) / that bandwidth.
${webgpuLine}
| model | runtime | weights | prefill_ms | decode_ms_per_token (median) | tokens/s | request p50 / p95 ms | peak RSS | copy GB/s | bandwidth bound ms/token | bound / measured |
| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |
${rows.join("\n")}`);
}

if (process.argv[2] === "--child") {
  child().then(
    () => process.exit(0),
    (e) => {
      console.error(e);
      process.exit(1);
    },
  );
} else {
  main().catch((e) => {
    console.error(e);
    process.exit(1);
  });
}
