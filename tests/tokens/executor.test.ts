/**
 * The executors on a real model and dataset slice: metrics under the lib/metrics keys, a budget
 * that evicts lowering the cache held and the kept ratio, bad params refused with the reason.
 */
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { METRICS } from "../../lib/metrics";
import { METHODS as METHODS_REGISTRY } from "../../lib/methods";
import type { DatasetRow, MethodInfo, ModelRow } from "../../lib/api-client";
import { demoTokenExperiments } from "../../components/first-run";
import { loadTokenizer } from "../../workers/tokenizer/tokenizer";
import h2o from "../../workers/methods/tokens/h2o";
import snapkv from "../../workers/methods/tokens/snapkv";
import streaming from "../../workers/methods/tokens/streaming-llm";
import type { MethodContext } from "../../workers/methods/types";
import promptCompress, { QUESTION_TAIL, SEGMENT, compressPrompt } from "../../workers/methods/tokens/prompt-compress";
import { openDecoder } from "../../workers/eval/decoder-session";

const ZOO = path.resolve(__dirname, "../../zoo");
const work = fs.mkdtempSync(path.join(os.tmpdir(), "tokens-exec-"));
afterAll(() => fs.rmSync(work, { recursive: true, force: true }));

function ctx(dataset: string, task: string, sub: string, file = path.join(ZOO, "datasets", `${dataset}.jsonl`), runtime = "cpu"): MethodContext {
  const dir = path.join(work, sub);
  fs.mkdirSync(dir, { recursive: true });
  return {
    runId: 1,
    model: { id: "zoo-small" },
    modelPath: path.join(ZOO, "zoo-small", "model.onnx"),
    dataset: { id: dataset, file, task },
    runtime,
    workDir: dir,
    seed: 1,
    tokenizer: loadTokenizer(path.join(ZOO, "zoo-small", "tokenizer.json")),
    shapeOnly: false,
    reporter: { stage: () => {}, progress: () => {}, log: () => {} },
  } as unknown as MethodContext;
}

describe("token executors", () => {
  it("H2O and SnapKV score recall at a budget with metrics under known keys", async () => {
    const known = new Set(METRICS.map((m) => m.key));
    const a = await h2o.run(ctx("recall-test", "recall", "h2o"), { budget: 16, recent_ratio: 0.5 });
    const b = await snapkv.run(ctx("recall-test", "recall", "snap"), { budget: 16, window: 4, kernel: 3 });
    for (const r of [a, b]) {
      for (const k of ["exact_match", "kv_cache_bytes", "kept_token_ratio", "decode_ms_per_token", "speedup"]) expect(known.has(k), k).toBe(true);
      expect(r.metrics.kept_token_ratio).toBeLessThan(1);
      expect(r.metrics.exact_match).toBeGreaterThanOrEqual(0);
      expect(r.measured).toEqual({ quality: true, speed: true });
    }
    // zoo-small: 3 layers x 2 kv heads x 2 (k, v) x head dim 24 x 4 bytes per entry; 17 entries at most while decoding
    expect(a.metrics.kv_cache_bytes).toBeLessThanOrEqual(17 * 3 * 2 * 2 * 24 * 4);
    await expect(snapkv.run(ctx("recall-test", "recall", "bad"), { budget: 8, window: 8, kernel: 3 })).rejects.toThrow(/window 8 must be below the budget 8/);
  });

  it("StreamingLLM runs perplexity streams past the context", async () => {
    // two streams of about 300 tokens, past zoo-small's 128-token context
    const lines = fs
      .readFileSync(path.join(ZOO, "datasets", "grammar-long-test.jsonl"), "utf8")
      .trim()
      .split("\n")
      .slice(0, 2);
    const file = path.join(work, "streams.jsonl");
    fs.writeFileSync(file, lines.map((l) => JSON.stringify({ text: (JSON.parse(l).text as string).slice(0, 1200) })).join("\n"));
    const r = await streaming.run(ctx("streams", "perplexity", "stream", file), { sink_tokens: 4, window: 60 });
    expect(r.metrics.perplexity).toBeGreaterThan(1);
    expect(r.metrics.kept_token_ratio).toBeLessThan(0.5);
    // the same run on the wasm runtime (the cache cut on the host there too) scores the same streams alike
    const w = await streaming.run(ctx("streams", "perplexity", "stream-wasm", file, "wasm"), { sink_tokens: 4, window: 60 });
    expect(Math.abs(w.metrics.perplexity / r.metrics.perplexity - 1)).toBeLessThan(1e-3);
    expect(w.metrics.kept_token_ratio).toBe(r.metrics.kept_token_ratio);
    expect(w.notes.join(" ")).toMatch(/this run: wasm/);
    await expect(streaming.run(ctx("streams", "perplexity", "stream-browser", file, "browser"), { sink_tokens: 4, window: 60 })).rejects.toThrow(
      /not on the browser runtime/,
    );
  });
});

describe("prompt compression", () => {
  it("keeps the highest-surprisal share of each segment and the question tail", async () => {
    const comp = await openDecoder(path.join(ZOO, "zoo-draft", "model.onnx"), "cpu");
    try {
      const tok = loadTokenizer(path.join(ZOO, "zoo-draft", "tokenizer.json"));
      const ids = tok.encode(JSON.parse(fs.readFileSync(path.join(ZOO, "datasets", "mqar-256-test.jsonl"), "utf8").split("\n")[0]).prompt).slice(0, 80);
      expect(await compressPrompt(comp, ids, 1, 0)).toEqual(ids);
      const half = await compressPrompt(comp, ids, 0.5, 0);
      expect(half.slice(-QUESTION_TAIL)).toEqual(ids.slice(-QUESTION_TAIL));
      // reference for the first segment: surprisal after the start token alone, top half by value
      const seg = ids.slice(0, SEGMENT);
      const lp = await comp.logprobs([0], seg);
      const order = [...lp.keys()]
        .sort((a, b) => lp[a] - lp[b] || a - b)
        .slice(0, SEGMENT / 2)
        .sort((a, b) => a - b);
      expect(half.slice(0, SEGMENT / 2)).toEqual(order.map((i) => seg[i]));
      expect(half.length).toBe(SEGMENT / 2 + SEGMENT / 2 + Math.ceil((80 - QUESTION_TAIL - 2 * SEGMENT) / 2) + QUESTION_TAIL);
    } finally {
      await comp.release();
    }
  });

  it("answers from the compressed prompt with the compressor's time in the latency", async () => {
    const c = ctx("recall-test", "recall", "pc");
    Object.assign(c, {
      shape: { vocabSize: 640 },
      openDecoder: () => openDecoder(path.join(ZOO, "zoo-small", "model.onnx"), "cpu"),
      paramModel: async (id: string) => ({
        id,
        modelPath: "",
        tokenizerPath: null,
        shapeOnly: false,
        open: () => openDecoder(path.join(ZOO, id, "model.onnx"), "cpu"),
      }),
    });
    const r = await promptCompress.run(c, { ratio: 0.5, compressor_model: "zoo-draft" });
    expect(r.metrics.kept_token_ratio).toBeLessThan(0.9);
    expect(r.metrics.latency_ms_p50).toBeGreaterThan(0);
    expect(r.metrics.exact_match).toBeGreaterThanOrEqual(0);
    await expect(promptCompress.run(ctx("grammar-test", "perplexity", "pc2"), { ratio: 0.5, compressor_model: "zoo-draft" })).rejects.toThrow(/perplexity set/);
  });
});

describe("first-run demo", () => {
  it("plans a KV-budget sweep on zoo-long that each method's schema accepts, only when zoo-long and its set are registered", () => {
    const methods = METHODS_REGISTRY.map((m) => ({ id: m.id, family: m.family, label: m.label, implemented: m.implemented })) as MethodInfo[];
    const plan = demoTokenExperiments([{ id: "zoo-long" } as ModelRow], [{ id: "mqar-1024-test" } as DatasetRow], methods, "cpu");
    expect(plan.map((e) => e.methodId).sort()).toEqual(["tokens.h2o", "tokens.snapkv", "tokens.streaming-llm"]);
    for (const e of plan) {
      const def = METHODS_REGISTRY.find((m) => m.id === e.methodId)!;
      const keys = Object.keys(e.grid ?? {});
      const combos = (e.grid?.[keys[0]] ?? []).map((v) => ({ [keys[0]]: v, ...Object.fromEntries(keys.slice(1).map((k) => [k, e.grid![k][0]])) }));
      for (const c of combos) expect(def.params.safeParse(c).success, JSON.stringify(c)).toBe(true);
    }
    expect(demoTokenExperiments([], [{ id: "mqar-1024-test" } as DatasetRow], methods, "cpu")).toEqual([]);
  });
});
