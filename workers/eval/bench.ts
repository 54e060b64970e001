/**
 * Latency and memory of a decoder on one runtime (how each number is measured: docs/measurement.md).
 *
 * One request = prefill of a prompt of `promptLength` tokens + `decodeTokens` greedy cached steps.
 * Warmup requests run first and are discarded (they pay for kernel selection, allocator growth and,
 * under webgpu, shader compilation). Every timed request then gives one prefill sample, one sample
 * per decode step and one end-to-end latency sample. Prompt ids are drawn from the vocabulary with
 * the job's seed: latency does not depend on which tokens they are, so random weights (shape-only
 * models) and trained weights are measured the same way.
 */
import fs from "node:fs";
import { performance } from "node:perf_hooks";
import type { Runtime } from "../types";
import { openRuntime } from "../runtimes";
import { argmax, openDecoder, type DecoderSession, type OpenDecoderOptions } from "./decoder-session";
import { seededRng } from "./dataset";
import { modelStats } from "./model-stats";
import type { BenchmarkOptions, MeasuredMetrics } from "./types";

export const DEFAULT_BENCH: BenchmarkOptions = { promptLength: 128, decodeTokens: 32, warmup: 2, repeats: 5 };

export function median(xs: number[]): number {
  if (xs.length === 0) return NaN;
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
}

/** Nearest-rank percentile (p in (0, 100]); with 5 samples p95 is the slowest request. */
export function percentile(xs: number[], p: number): number {
  if (xs.length === 0) return NaN;
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.max(0, Math.ceil((p / 100) * s.length) - 1))];
}

export interface SpeedSamples {
  promptLength: number;
  decodeTokens: number;
  prefillMs: number[];
  decodeMs: number[];
  requestMs: number[];
}

/** Times `repeats` requests after `warmup` discarded ones. */
export async function timeRequests(decoder: DecoderSession, opts: BenchmarkOptions, seed: number): Promise<SpeedSamples> {
  const max = decoder.shape.maxPosition;
  const decodeTokens = Math.max(1, opts.decodeTokens);
  let promptLength = Math.max(1, opts.promptLength);
  if (max !== null && promptLength + decodeTokens > max) promptLength = Math.max(1, max - decodeTokens);
  const rng = seededRng(seed);
  const prompt = Array.from({ length: promptLength }, () => Math.floor(rng() * decoder.shape.vocabSize));
  const samples: SpeedSamples = { promptLength, decodeTokens, prefillMs: [], decodeMs: [], requestMs: [] };
  for (let r = 0; r < opts.warmup + opts.repeats; r++) {
    const timed = r >= opts.warmup;
    const t0 = performance.now();
    let logits = await decoder.prefill(prompt);
    const t1 = performance.now();
    const steps: number[] = [];
    for (let i = 0; i < decodeTokens; i++) {
      const s = performance.now();
      // argmax forces the logits to be on the host, so a step's time includes its read-back.
      logits = await decoder.step(argmax(logits));
      steps.push(performance.now() - s);
    }
    const t2 = performance.now();
    if (timed) {
      samples.prefillMs.push(t1 - t0);
      samples.decodeMs.push(...steps);
      samples.requestMs.push(t2 - t0);
    }
  }
  return samples;
}

/** VmHWM (peak resident set) of this process in bytes, or null off Linux. */
export function peakRssBytes(): number | null {
  try {
    const m = /VmHWM:\s+(\d+)\s+kB/.exec(fs.readFileSync("/proc/self/status", "utf8"));
    return m ? Number(m[1]) * 1024 : null;
  } catch {
    return null;
  }
}

/**
 * Resets VmHWM to the current RSS (Linux >= 4.0: writing 5 to clear_refs), so a peak read later
 * belongs to what ran in between. Returns false where the kernel does not allow it.
 */
export function resetPeakRss(): boolean {
  try {
    fs.writeFileSync("/proc/self/clear_refs", "5");
    return true;
  } catch {
    return false;
  }
}

export interface BenchmarkModelOptions extends Partial<BenchmarkOptions> {
  seed?: number;
  decoder?: OpenDecoderOptions;
}

/** Opens the model on `runtime`, times requests and reads its memory figures; releases the session. */
export async function benchmarkModel(modelPath: string, runtime: Runtime, options: BenchmarkModelOptions = {}): Promise<MeasuredMetrics & { samples: SpeedSamples }> {
  const opts: BenchmarkOptions = { ...DEFAULT_BENCH, ...stripUndefined(options) };
  const notes: string[] = [];
  const stats = modelStats(modelPath);
  const handle = await openRuntime(runtime);
  (globalThis as { gc?: () => void }).gc?.();
  const peakReset = resetPeakRss();
  if (!peakReset) notes.push("peak_rss_bytes covers the whole process (VmHWM could not be reset)");
  handle.gpu?.resetPeak();
  const decoder = await openDecoder(modelPath, runtime, options.decoder);
  try {
    const samples = await timeRequests(decoder, opts, options.seed ?? 0);
    const decode = median(samples.decodeMs);
    const contextTokens = samples.promptLength + samples.decodeTokens;
    const kvBytes = 2 * decoder.shape.numLayers * decoder.shape.numKvHeads * decoder.shape.headDim * contextTokens * 4;
    const metrics: Record<string, number> = {
      prefill_ms: median(samples.prefillMs),
      decode_ms_per_token: decode,
      tokens_per_s: 1000 / decode,
      latency_ms_p50: median(samples.requestMs),
      latency_ms_p95: percentile(samples.requestMs, 95),
      prompt_tokens: samples.promptLength,
      decode_tokens: samples.decodeTokens,
      model_bytes: stats.modelBytes,
      weights_bytes: stats.weightsBytes,
      kv_cache_bytes: kvBytes,
      memory_bytes: stats.weightsBytes + kvBytes,
    };
    const rss = peakRssBytes();
    if (rss !== null) metrics.peak_rss_bytes = rss;
    if (handle.gpu) metrics.gpu_buffer_bytes = handle.gpu.peakBytes;
    notes.push(
      `speed on ${runtime}: prompt ${samples.promptLength} tokens + ${samples.decodeTokens} decode steps, ` +
        `${opts.warmup} warmup + ${opts.repeats} timed requests; kv_cache_bytes at ${contextTokens} tokens (float32)`,
    );
    return { metrics, notes, samples };
  } finally {
    await decoder.release();
  }
}

function stripUndefined<T extends object>(o: T): Partial<T> {
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) as Partial<T>;
}
