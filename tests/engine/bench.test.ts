import { afterAll, beforeAll, describe, expect, it } from "vitest";
import fs from "node:fs";
import {
  benchmarkModel,
  benchmarkPair,
  DEFAULT_BENCH,
  median,
  P95_MIN_REQUESTS,
  peakRssBytes,
  percentile,
  resetPeakRss,
  timeInterleaved,
  timeRequests,
} from "@/workers/eval/bench";
import { openDecoder } from "@/workers/eval/decoder-session";
import { tempDir, writeRandomModel } from "./fixtures";

let dir: string;
let modelPath: string;

beforeAll(() => {
  dir = tempDir("bench");
  modelPath = writeRandomModel(dir, {
    config: { vocab_size: 300, num_layers: 2, num_heads: 4, num_kv_heads: 2, hidden_size: 32, intermediate_size: 64, max_position: 40 },
  });
});
afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

describe("benchmark statistics", () => {
  it("median and nearest-rank percentiles", () => {
    expect(median([5, 1, 3])).toBe(3);
    expect(median([4, 1, 3, 2])).toBe(2.5);
    expect(percentile([1, 2, 3, 4, 5], 95)).toBe(5);
    expect(percentile([1, 2, 3, 4, 5], 50)).toBe(3);
    expect(
      percentile(
        Array.from({ length: 100 }, (_, i) => i + 1),
        95,
      ),
    ).toBe(95);
    expect(median([])).toBeNaN();
  });

  it("peak RSS can be reset on this kernel and never reads below the current RSS", () => {
    expect(resetPeakRss()).toBe(true);
    const peak = peakRssBytes()!;
    const rss = Number(/VmRSS:\s+(\d+)/.exec(fs.readFileSync("/proc/self/status", "utf8"))![1]) * 1024;
    expect(peak).toBeGreaterThanOrEqual(rss * 0.9);
  });
});

describe("request timing", () => {
  it("times warmup-free requests and shortens the prompt to fit the context", async () => {
    const decoder = await openDecoder(modelPath, "cpu");
    try {
      const s = await timeRequests(decoder, { promptLength: 128, decodeTokens: 5, warmup: 1, repeats: 3 }, 3);
      expect(s.promptLength).toBe(35); // max_position 40 - 5 decode tokens
      expect(s.prefillMs).toHaveLength(3);
      expect(s.requestMs).toHaveLength(3);
      expect(s.decodeMs).toHaveLength(15);
      expect(s.decodeSteps.map((r) => r.length)).toEqual([5, 5, 5]);
      for (let i = 0; i < 3; i++) expect(s.requestMs[i]).toBeGreaterThanOrEqual(s.prefillMs[i]);
    } finally {
      await decoder.release();
    }
  });

  it("interleaves two sessions request by request on the same prompt", async () => {
    const a = await openDecoder(modelPath, "cpu");
    const b = await openDecoder(modelPath, "cpu");
    const order: string[] = [];
    const spy = (d: typeof a, name: string) => {
      const prefill = d.prefill.bind(d);
      d.prefill = async (ids: number[]) => (order.push(`${name}:${ids.length}:${ids.slice(0, 3).join(",")}`), prefill(ids));
    };
    spy(a, "A");
    spy(b, "B");
    try {
      const [sa, sb] = await timeInterleaved([a, b], { promptLength: 8, decodeTokens: 2, warmup: 1, repeats: 2 }, 9);
      expect(order.map((o) => o[0]).join("")).toBe("ABABAB");
      expect(new Set(order.map((o) => o.slice(2))).size).toBe(1);
      expect([sa.prefillMs.length, sb.prefillMs.length, sa.decodeSteps.length, sb.decodeSteps.length]).toEqual([2, 2, 2, 2]);
    } finally {
      await a.release();
      await b.release();
    }
  });

  it("benchmarkModel reports latency with intervals, memory and the lengths it used; p95 only from 20 requests", async () => {
    expect(DEFAULT_BENCH.repeats).toBeGreaterThanOrEqual(15);
    const r = await benchmarkModel(modelPath, "cpu", { promptLength: 8, decodeTokens: 3, warmup: 0, repeats: 6, memory: false });
    expect(r.metrics.prompt_tokens).toBe(8);
    expect(r.metrics.decode_tokens).toBe(3);
    expect(r.metrics.decode_ms_per_token).toBe(median(r.samples.decodeMs));
    expect(r.metrics.kv_cache_bytes).toBe(2 * 2 * 2 * 8 * 11 * 4);
    expect(r.metrics.gpu_buffer_bytes).toBeUndefined();
    expect(r.metrics.peak_rss_bytes).toBeUndefined();
    // 6 prefill samples: the order-statistics interval is (min, max), coverage 1 - 2/64.
    expect(r.metrics.prefill_ms_lo).toBe(Math.min(...r.samples.prefillMs));
    expect(r.metrics.prefill_ms_hi).toBe(Math.max(...r.samples.prefillMs));
    expect(r.metrics.decode_ms_per_token_lo).toBeLessThanOrEqual(r.metrics.decode_ms_per_token);
    expect(r.metrics.decode_ms_per_token_hi).toBeGreaterThanOrEqual(r.metrics.decode_ms_per_token);
    expect(r.metrics.latency_ms_p95).toBeUndefined();
    const notes = r.notes.join("\n");
    expect(notes).toMatch(/prompt 8 tokens \+ 3 decode steps, 0 warmup \+ 6 timed requests/);
    expect(notes).toMatch(/exact coverage 96\.9%/);
    expect(notes).toMatch(/latency_ms_p95 not reported: 6 timed requests, fewer than the 20/);

    const few = await benchmarkModel(modelPath, "cpu", { promptLength: 4, decodeTokens: 1, warmup: 0, repeats: 3, memory: false });
    expect(few.metrics.prefill_ms_lo).toBeUndefined();
    expect(few.notes.join("\n")).toMatch(/no prefill_ms interval: 3 timed requests/);
    const many = await benchmarkModel(modelPath, "cpu", { promptLength: 4, decodeTokens: 1, warmup: 0, repeats: P95_MIN_REQUESTS, memory: false });
    expect(many.metrics.latency_ms_p95).toBe(percentile(many.samples.requestMs, 95));
  });

  it("benchmarkPair gives the run a speedup with a paired interval and each model its own figures", async () => {
    const r = await benchmarkPair(modelPath, modelPath, "cpu", { promptLength: 8, decodeTokens: 4, warmup: 1, repeats: 8, seed: 2, memory: false });
    const m = r.run.metrics;
    expect(m.speedup).toBeCloseTo(r.base.metrics.decode_ms_per_token / m.decode_ms_per_token, 12);
    expect(m.speedup_lo).toBeLessThanOrEqual(m.speedup);
    expect(m.speedup_hi).toBeGreaterThanOrEqual(m.speedup);
    expect(r.base.metrics.speedup).toBeUndefined();
    expect(r.base.metrics.prefill_ms_lo).toBeDefined();
    expect(r.run.samples.decodeSteps).toHaveLength(8);
    expect(r.run.notes.join("\n")).toMatch(/interleaved request by request .* 1 warmup \+ 8 timed requests each/);
    expect(r.run.notes.join("\n")).toMatch(/speedup \d\.\d{3} \[\d\.\d{3}, \d\.\d{3}\] .*8 interleaved request pairs.*: (faster|slower|no measurable change)/);
  });
});
