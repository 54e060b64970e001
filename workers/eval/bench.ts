/**
 * Latency and memory of a decoder on one runtime (how each number is measured: docs/measurement.md).
 *
 * One request = prefill of a prompt of `promptLength` tokens + `decodeTokens` greedy cached steps.
 * Warmup requests run first and are discarded (they pay for kernel selection, allocator growth and,
 * under webgpu, shader compilation). Every timed request then gives one prefill sample, one sample
 * per decode step and one end-to-end latency sample. Prompt ids are drawn from the vocabulary with
 * the job's seed: latency does not depend on which tokens they are, so random weights (shape-only
 * models) and trained weights are measured the same way.
 *
 * Two models that are compared (a base model and its compressed version) are timed interleaved,
 * request by request, with both sessions open, so load on the machine that comes and goes hits both
 * alike; the speedup and its interval come from those pairs (intervals.ts). Peak memory is measured
 * per model in a fresh process (memory-probe.ts).
 */
import path from "node:path";
import { performance } from "node:perf_hooks";
import type { Runtime } from "../types";
import { openRuntime } from "../runtimes";
import { speedupVerdict } from "../../lib/metrics/intervals";
import { argmax, openDecoder, type DecoderSession, type OpenDecoderOptions } from "./decoder-session";
import { seededRng } from "./dataset";
import { modelStats } from "./model-stats";
import { BOOTSTRAP_RESAMPLES, clusterBootstrapMedian, LEVEL, medianInterval, pairedRatioBootstrap } from "./intervals";
import { probeMemory } from "./memory-probe";
import { kvFloatsPerToken, type BenchmarkOptions, type DecoderShape, type MeasuredMetrics } from "./types";

export { peakRssBytes, resetPeakRss } from "./rss";

/**
 * 2 warmup + 15 timed requests per model: 15 prefill samples give a 96.5% order-statistics
 * interval between the 4th and 12th fastest, and an interleaved zoo-base pair (96 + 32 tokens)
 * took 8.3 s on the 2-core test box at load average 8 (2026-11-30).
 */
export const DEFAULT_BENCH: BenchmarkOptions = { promptLength: 128, decodeTokens: 32, warmup: 2, repeats: 15 };

/** latency_ms_p95 needs at least this many timed requests: with fewer it is just the slowest one or two. */
export const P95_MIN_REQUESTS = 20;

/** Requests the memory probe runs after loading its model: the first grows the arenas, the second shows they are reused. */
export const PROBE_REQUESTS = 2;

// Distinct bootstrap streams per statistic, all derived from the run's seed.
const DECODE_SALT = 0x5f3759df;
const SPEEDUP_SALT = 0x2545f491;

export function median(xs: number[]): number {
  if (xs.length === 0) return NaN;
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
}

/** Nearest-rank percentile (p in (0, 100]). */
export function percentile(xs: number[], p: number): number {
  if (xs.length === 0) return NaN;
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.max(0, Math.ceil((p / 100) * s.length) - 1))];
}

export interface SpeedSamples {
  promptLength: number;
  decodeTokens: number;
  prefillMs: number[];
  /** Every timed decode step, request after request. */
  decodeMs: number[];
  /** The same steps grouped by request (the unit the decode and speedup intervals resample). */
  decodeSteps: number[][];
  requestMs: number[];
}

/** The prompt both models of a comparison get: `promptLength` ids (shortened to fit every model's context), seeded. */
function benchPrompt(decoders: DecoderSession[], opts: BenchmarkOptions, seed: number): { prompt: number[]; decodeTokens: number } {
  const decodeTokens = Math.max(1, opts.decodeTokens);
  let promptLength = Math.max(1, opts.promptLength);
  for (const d of decoders) {
    const max = d.shape.maxPosition;
    if (max !== null && promptLength + decodeTokens > max) promptLength = Math.max(1, max - decodeTokens);
  }
  const vocab = Math.min(...decoders.map((d) => d.shape.vocabSize));
  const rng = seededRng(seed);
  return { prompt: Array.from({ length: promptLength }, () => Math.floor(rng() * vocab)), decodeTokens };
}

async function request(decoder: DecoderSession, prompt: number[], decodeTokens: number) {
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
  return { prefill: t1 - t0, steps, total: performance.now() - t0 };
}

/**
 * Times `warmup` + `repeats` requests on each decoder, interleaved request by request (A B A B …),
 * every decoder on the same prompt. Returns one SpeedSamples per decoder, in order; request i of
 * each was timed in the same round.
 */
export async function timeInterleaved(decoders: DecoderSession[], opts: BenchmarkOptions, seed: number): Promise<SpeedSamples[]> {
  const { prompt, decodeTokens } = benchPrompt(decoders, opts, seed);
  const out: SpeedSamples[] = decoders.map(() => ({ promptLength: prompt.length, decodeTokens, prefillMs: [], decodeMs: [], decodeSteps: [], requestMs: [] }));
  for (let r = 0; r < opts.warmup + opts.repeats; r++) {
    for (let d = 0; d < decoders.length; d++) {
      const q = await request(decoders[d], prompt, decodeTokens);
      if (r < opts.warmup) continue;
      out[d].prefillMs.push(q.prefill);
      out[d].decodeMs.push(...q.steps);
      out[d].decodeSteps.push(q.steps);
      out[d].requestMs.push(q.total);
    }
  }
  return out;
}

/** Times `repeats` requests after `warmup` discarded ones. */
export async function timeRequests(decoder: DecoderSession, opts: BenchmarkOptions, seed: number): Promise<SpeedSamples> {
  return (await timeInterleaved([decoder], opts, seed))[0];
}

const pct = (x: number) => `${(x * 100).toFixed(1)}%`;

/**
 * prefill_ms, decode_ms_per_token (each with its 95% interval), tokens_per_s, request p50 (and p95
 * from P95_MIN_REQUESTS requests on) and the lengths used; notes say which figure was left out and why.
 */
export function speedMetrics(s: SpeedSamples, seed: number): MeasuredMetrics {
  const notes: string[] = [];
  const decode = median(s.decodeMs);
  const metrics: Record<string, number> = {
    prefill_ms: median(s.prefillMs),
    decode_ms_per_token: decode,
    tokens_per_s: 1000 / decode,
    latency_ms_p50: median(s.requestMs),
    prompt_tokens: s.promptLength,
    decode_tokens: s.decodeTokens,
  };
  const n = s.requestMs.length;
  const pre = medianInterval(s.prefillMs, LEVEL);
  const dec = clusterBootstrapMedian(s.decodeSteps, (seed ^ DECODE_SALT) >>> 0);
  if (pre) Object.assign(metrics, { prefill_ms_lo: pre.lo, prefill_ms_hi: pre.hi });
  if (dec) Object.assign(metrics, { decode_ms_per_token_lo: dec.lo, decode_ms_per_token_hi: dec.hi });
  const how: string[] = [];
  if (pre) how.push(`prefill_ms by order statistics of the median (exact coverage ${pct(pre.coverage)})`);
  if (dec) how.push(`decode_ms_per_token by a bootstrap over requests (${BOOTSTRAP_RESAMPLES} resamples, seeded)`);
  if (how.length > 0) notes.push(`95% intervals over ${n} timed requests: ${how.join(", ")}`);
  if (!pre) notes.push(`no prefill_ms interval: ${n} timed requests (a 95% interval of a median by order statistics needs at least 6)`);
  if (!dec) notes.push(`no decode_ms_per_token interval: ${n} timed request(s) (the bootstrap over requests needs at least 2)`);
  if (n >= P95_MIN_REQUESTS) metrics.latency_ms_p95 = percentile(s.requestMs, 95);
  else notes.push(`latency_ms_p95 not reported: ${n} timed requests, fewer than the ${P95_MIN_REQUESTS} a 95th percentile needs`);
  return { metrics, notes };
}

function sizeMetrics(modelPath: string, shape: DecoderShape, contextTokens: number): Record<string, number> {
  const stats = modelStats(modelPath);
  const kvBytes = kvFloatsPerToken(shape) * contextTokens * 4;
  return { model_bytes: stats.modelBytes, weights_bytes: stats.weightsBytes, kv_cache_bytes: kvBytes, memory_bytes: stats.weightsBytes + kvBytes };
}

const mib = (b: number) => `${(b / 2 ** 20).toFixed(1)} MiB`;

/** peak_rss_bytes (and gpu_buffer_bytes under webgpu) of `modelPath` alone, from a fresh process. */
export async function freshProcessMemory(
  modelPath: string,
  runtime: Runtime,
  opts: { promptLength: number; decodeTokens: number; seed: number; decoder?: OpenDecoderOptions },
): Promise<MeasuredMetrics> {
  const file = path.basename(modelPath);
  try {
    const m = await probeMemory({
      modelPath,
      runtime,
      decoder: opts.decoder,
      promptLength: opts.promptLength,
      decodeTokens: opts.decodeTokens,
      requests: PROBE_REQUESTS,
      seed: opts.seed,
    });
    const metrics: Record<string, number> = {};
    const notes: string[] = [];
    if (m.peakRssBytes !== null) {
      metrics.peak_rss_bytes = m.peakRssBytes;
      const before = m.rssBeforeModelBytes !== null ? ` (${mib(m.rssBeforeModelBytes)} with the runtime loaded, before the model)` : "";
      const scope = m.peakReset ? "" : "; VmHWM could not be reset, so it also covers the process's start-up";
      notes.push(
        `peak_rss_bytes of ${file}: ${mib(m.peakRssBytes)} in a fresh process that loads only it on ${runtime} and runs ${PROBE_REQUESTS} requests${before}${scope}`,
      );
    } else {
      notes.push(`peak_rss_bytes not measured: VmHWM is not readable on this platform`);
    }
    if (m.gpuBufferBytes !== null) metrics.gpu_buffer_bytes = m.gpuBufferBytes;
    return { metrics, notes };
  } catch (e) {
    return { metrics: {}, notes: [`peak_rss_bytes not measured: ${e instanceof Error ? e.message : String(e)}`] };
  }
}

export interface BenchmarkModelOptions extends Partial<BenchmarkOptions> {
  seed?: number;
  decoder?: OpenDecoderOptions;
  /** Measure peak_rss_bytes in a fresh process (default true). */
  memory?: boolean;
}

function resolveOptions(options: BenchmarkModelOptions): BenchmarkOptions {
  return {
    ...DEFAULT_BENCH,
    ...stripUndefined({ promptLength: options.promptLength, decodeTokens: options.decodeTokens, warmup: options.warmup, repeats: options.repeats }),
  };
}

const lengthsNote = (s: SpeedSamples, opts: BenchmarkOptions, each = "") =>
  `prompt ${s.promptLength} tokens + ${s.decodeTokens} decode steps, ${opts.warmup} warmup + ${opts.repeats} timed requests${each}; ` +
  `kv_cache_bytes at ${s.promptLength + s.decodeTokens} tokens (float32)`;

export type BenchmarkResult = MeasuredMetrics & { samples: SpeedSamples };

/** Opens the model on `runtime`, times requests, reads its size and (in a fresh process) its peak memory. */
export async function benchmarkModel(modelPath: string, runtime: Runtime, options: BenchmarkModelOptions = {}): Promise<BenchmarkResult> {
  const opts = resolveOptions(options);
  const seed = options.seed ?? 0;
  await openRuntime(runtime);
  const decoder = await openDecoder(modelPath, runtime, options.decoder);
  let samples: SpeedSamples;
  try {
    samples = await timeRequests(decoder, opts, seed);
  } finally {
    await decoder.release();
  }
  const speed = speedMetrics(samples, seed);
  const metrics = { ...speed.metrics, ...sizeMetrics(modelPath, decoder.shape, samples.promptLength + samples.decodeTokens) };
  const notes = [`speed on ${runtime}: ${lengthsNote(samples, opts)}`, ...speed.notes];
  if (options.memory !== false) {
    const mem = await freshProcessMemory(modelPath, runtime, {
      promptLength: samples.promptLength,
      decodeTokens: samples.decodeTokens,
      seed,
      decoder: options.decoder,
    });
    Object.assign(metrics, mem.metrics);
    notes.push(...mem.notes);
  }
  return { metrics, notes, samples };
}

export interface BenchmarkPairOptions extends BenchmarkModelOptions {
  /** Also measure the base model's peak memory in its own fresh process (default false). */
  baseMemory?: boolean;
}

export interface PairResult {
  /** The base model's figures from the interleaved requests (speed and size; memory when asked). */
  base: BenchmarkResult;
  /** The compared model's figures, with speedup, speedup_lo and speedup_hi. */
  run: BenchmarkResult;
}

/**
 * Times the base model and `modelPath` interleaved (both sessions open, same prompt), then gives
 * each its speed figures and the run its speedup = base median decode step / run median decode
 * step with a paired-bootstrap 95% interval over the request pairs.
 */
export async function benchmarkPair(baseModelPath: string, modelPath: string, runtime: Runtime, options: BenchmarkPairOptions = {}): Promise<PairResult> {
  const opts = resolveOptions(options);
  const seed = options.seed ?? 0;
  await openRuntime(runtime);
  const base = await openDecoder(baseModelPath, runtime, options.decoder);
  let run: DecoderSession | null = null;
  let samples: SpeedSamples[];
  try {
    run = await openDecoder(modelPath, runtime, options.decoder);
    samples = await timeInterleaved([base, run], opts, seed);
  } finally {
    await run?.release();
    await base.release();
  }
  const [bs, rs] = samples;
  const baseSpeed = speedMetrics(bs, seed);
  const runSpeed = speedMetrics(rs, seed);
  const baseMetrics = { ...baseSpeed.metrics, ...sizeMetrics(baseModelPath, base.shape, bs.promptLength + bs.decodeTokens) };
  const runMetrics = { ...runSpeed.metrics, ...sizeMetrics(modelPath, run!.shape, rs.promptLength + rs.decodeTokens) };
  const baseNotes = [`speed on ${runtime}: ${lengthsNote(bs, opts)}`, ...baseSpeed.notes];
  const runNotes = [
    `speed on ${runtime}: base model and this model interleaved request by request (A B A B ..., both sessions open, same prompt): ${lengthsNote(rs, opts, " each")}`,
    ...runSpeed.notes,
  ];

  const speedup = baseMetrics.decode_ms_per_token / runMetrics.decode_ms_per_token;
  if (Number.isFinite(speedup) && speedup > 0) {
    runMetrics.speedup = speedup;
    const ci = pairedRatioBootstrap(bs.decodeSteps, rs.decodeSteps, (seed ^ SPEEDUP_SALT) >>> 0);
    if (ci) {
      runMetrics.speedup_lo = ci.lo;
      runMetrics.speedup_hi = ci.hi;
      runNotes.push(
        `speedup ${speedup.toFixed(3)} [${ci.lo.toFixed(3)}, ${ci.hi.toFixed(3)}] (base median decode step / this model's; 95% paired bootstrap over ` +
          `${rs.decodeSteps.length} interleaved request pairs, ${BOOTSTRAP_RESAMPLES} resamples, seeded): ${speedupVerdict(ci.lo, ci.hi)}`,
      );
    } else {
      runNotes.push(`speedup ${speedup.toFixed(3)} has no interval: ${rs.decodeSteps.length} request pair(s), a paired bootstrap needs at least 2`);
    }
  }

  const memOpts = { promptLength: rs.promptLength, decodeTokens: rs.decodeTokens, seed, decoder: options.decoder };
  if (options.memory !== false) {
    const mem = await freshProcessMemory(modelPath, runtime, memOpts);
    Object.assign(runMetrics, mem.metrics);
    runNotes.push(...mem.notes);
    if (options.baseMemory) {
      const bm = await freshProcessMemory(baseModelPath, runtime, memOpts);
      Object.assign(baseMetrics, bm.metrics);
      baseNotes.push(...bm.notes);
    }
  }
  return { base: { metrics: baseMetrics, notes: baseNotes, samples: bs }, run: { metrics: runMetrics, notes: runNotes, samples: rs } };
}

function stripUndefined<T extends object>(o: T): Partial<T> {
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) as Partial<T>;
}
