import { afterAll, beforeAll, describe, expect, it } from "vitest";
import fs from "node:fs";
import { benchmarkModel, median, peakRssBytes, percentile, resetPeakRss, timeRequests } from "@/workers/eval/bench";
import { openDecoder } from "@/workers/eval/decoder-session";
import { tempDir, writeRandomModel } from "./fixtures";

let dir: string;
let modelPath: string;

beforeAll(() => {
  dir = tempDir("bench");
  modelPath = writeRandomModel(dir, { config: { vocab_size: 300, num_layers: 2, num_heads: 4, num_kv_heads: 2, hidden_size: 32, intermediate_size: 64, max_position: 40 } });
});
afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

describe("benchmark statistics", () => {
  it("median and nearest-rank percentiles", () => {
    expect(median([5, 1, 3])).toBe(3);
    expect(median([4, 1, 3, 2])).toBe(2.5);
    expect(percentile([1, 2, 3, 4, 5], 95)).toBe(5);
    expect(percentile([1, 2, 3, 4, 5], 50)).toBe(3);
    expect(percentile(Array.from({ length: 100 }, (_, i) => i + 1), 95)).toBe(95);
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
      for (let i = 0; i < 3; i++) expect(s.requestMs[i]).toBeGreaterThanOrEqual(s.prefillMs[i]);
    } finally {
      await decoder.release();
    }
  });

  it("benchmarkModel reports latency, memory and the lengths it used", async () => {
    const r = await benchmarkModel(modelPath, "cpu", { promptLength: 8, decodeTokens: 3, warmup: 0, repeats: 2 });
    expect(r.metrics.prompt_tokens).toBe(8);
    expect(r.metrics.decode_tokens).toBe(3);
    expect(r.metrics.decode_ms_per_token).toBe(median(r.samples.decodeMs));
    expect(r.metrics.kv_cache_bytes).toBe(2 * 2 * 2 * 8 * 11 * 4);
    expect(r.metrics.gpu_buffer_bytes).toBeUndefined();
    expect(r.notes.join("\n")).toMatch(/prompt 8 tokens \+ 3 decode steps, 0 warmup \+ 2 timed requests/);
  });
});
