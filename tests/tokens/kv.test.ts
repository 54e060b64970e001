/**
 * The token and KV-cache family: each eviction rule against a plain reference on random scores (per
 * head and with GQA), DecoderSession.keepPositions keeping exactly the selected rows, the attention
 * scores graph, a budget at or above the context reproducing the dense logits exactly, and
 * StreamingLLM's key re-rotation giving the logits of recomputing the kept tokens at their cache
 * positions (zoo-draft: one layer, so a token's key and value depend on it and its position only).
 */
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type DecoderSession, openDecoder } from "../../workers/eval/decoder-session";
import { Rng } from "../../workers/data/rng";
import { buildDecoder } from "../../workers/onnx/decoder-builder";
import { parseDecoderConfig, type DecoderConfigInput } from "../../workers/onnx/decoder-config";
import { encodeModel } from "../../workers/onnx/model-io";
import { GQA, testWeights } from "../onnx/helpers";
import { exposeAttentionScores } from "../../workers/methods/tokens/attention-graph";
import { KvPolicyState, generateWithPolicy, type KvPolicySpec } from "../../workers/methods/tokens/kv-decode";
import { avgPool1d, groupScores, h2oKeep, snapkvKeep, streamingKeep } from "../../workers/methods/tokens/policies";

const ZOO = path.resolve(__dirname, "../../zoo");
let dir: string;
const opened: DecoderSession[] = [];

beforeAll(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), "tokens-"));
  for (const [name, layers] of [
    ["zoo-draft", 1],
    ["zoo-small", 3],
  ] as const) {
    fs.mkdirSync(path.join(dir, name));
    exposeAttentionScores(path.join(ZOO, name, "model.onnx"), path.join(dir, name, "model.onnx"), layers);
    fs.copyFileSync(path.join(ZOO, name, "config.json"), path.join(dir, name, "config.json"));
  }
});
afterAll(async () => {
  for (const s of opened) await s.release();
  fs.rmSync(dir, { recursive: true, force: true });
});

/** The builder's decoder with random weights and its config.json, written under the test's directory. */
function writeBuilt(name: string, config: DecoderConfigInput, seed: number): string {
  const file = path.join(dir, name, "model.onnx");
  fs.mkdirSync(path.dirname(file), { recursive: true });
  fs.writeFileSync(file, encodeModel(buildDecoder(config, { weights: testWeights(config, seed) })));
  fs.writeFileSync(path.join(dir, name, "config.json"), JSON.stringify(parseDecoderConfig(config)));
  return file;
}

async function open(file: string): Promise<DecoderSession> {
  const s = await openDecoder(file, "cpu");
  opened.push(s);
  return s;
}

const randomScores = (rng: Rng, n: number) => Float64Array.from({ length: n }, () => Math.floor(rng.next() * 50));

describe("eviction rules against plain references", () => {
  it("StreamingLLM keeps the sinks and the window", () => {
    for (const [len, s, w] of [
      [10, 4, 4],
      [8, 4, 4],
      [100, 0, 16],
      [30, 2, 64],
    ])
      expect(streamingKeep(len, s, w)).toEqual([...Array(len).keys()].filter((i) => len <= s + w || i < s || i >= len - w));
  });

  it("H2O keeps the recent entries and the heavy hitters of the rest, per head", () => {
    const rng = new Rng(1);
    for (let trial = 0; trial < 50; trial++) {
      const len = 5 + rng.int(60);
      const budget = 4 + rng.int(40);
      const recent = rng.int(budget + 1);
      const scores = randomScores(rng, len);
      // reference: walk the candidates by descending score (ties: lower index), take budget - recent
      const expected = new Set<number>();
      if (len <= budget) for (let i = 0; i < len; i++) expected.add(i);
      else {
        for (let i = len - recent; i < len; i++) expected.add(i);
        const cand = [...Array(len - recent).keys()];
        while (expected.size < budget) {
          let best = -1;
          for (const i of cand) if (!expected.has(i) && (best < 0 || scores[i] > scores[best])) best = i;
          expected.add(best);
        }
      }
      expect(h2oKeep(scores, budget, recent)).toEqual([...expected].sort((a, b) => a - b));
    }
  });

  it("SnapKV votes with the pooled window attention and keeps the window", () => {
    const rng = new Rng(2);
    for (let trial = 0; trial < 50; trial++) {
      const len = 20 + rng.int(60);
      const window = 1 + rng.int(8);
      const budget = window + 1 + rng.int(30);
      const kernel = 1 + 2 * rng.int(4);
      const scores = randomScores(rng, len);
      const got = snapkvKeep(scores, len, budget, window, kernel);
      if (len <= budget) {
        expect(got).toEqual([...Array(len).keys()]);
        continue;
      }
      // reference pooling: mean of the kernel centred on i over the prefix, zeros outside
      const p = kernel >> 1;
      const pooled = [...Array(len - window).keys()].map((i) => {
        let s = 0;
        for (let j = i - p; j <= i + p; j++) if (j >= 0 && j < len - window) s += scores[j];
        return s / kernel;
      });
      expect(Array.from(avgPool1d(scores.slice(0, len - window), kernel)).slice(0, len - window)).toEqual(pooled);
      const order = [...pooled.keys()].sort((a, b) => pooled[b] - pooled[a] || a - b);
      const expected = [...order.slice(0, budget - window), ...Array.from({ length: window }, (_, i) => len - window + i)].sort((a, b) => a - b);
      expect(got).toEqual(expected);
      expect(got.length).toBe(budget);
    }
  });

  it("grouped-query heads sum their scores per kv group", () => {
    const rng = new Rng(3);
    const heads = Array.from({ length: 6 }, () => randomScores(rng, 9));
    const g = groupScores(heads, 2);
    for (let i = 0; i < 9; i++) {
      expect(g[0][i]).toBe(heads[0][i] + heads[1][i] + heads[2][i]);
      expect(g[1][i]).toBe(heads[3][i] + heads[4][i] + heads[5][i]);
    }
    expect(() => groupScores(heads, 4)).toThrow(/do not divide/);
  });
});

describe("the cache mechanism", () => {
  it("keepPositions keeps exactly the selected rows of every layer and kv head", async () => {
    const s = await open(path.join(ZOO, "zoo-small", "model.onnx"));
    await s.prefill([1, 2, 3, 4, 5, 6, 7, 8, 9, 10]);
    const before = await s.readCache();
    const rng = new Rng(4);
    const keep = before.keys.map(() => [0, 1].map(() => [...Array(10).keys()].filter(() => rng.chance(0.5)).slice(0, 4)));
    for (const layer of keep) for (const h of layer) while (h.length < 4) h.push(9 - h.length);
    await s.keepPositions(keep);
    const after = await s.readCache();
    expect(after.length).toBe(4);
    const D = s.shape.headDim;
    for (let l = 0; l < keep.length; l++)
      for (let h = 0; h < 2; h++)
        keep[l][h].forEach((i, j) => {
          expect(after.keys[l].subarray((h * 4 + j) * D, (h * 4 + j + 1) * D)).toEqual(before.keys[l].subarray((h * 10 + i) * D, (h * 10 + i + 1) * D));
          expect(after.values[l].subarray((h * 4 + j) * D, (h * 4 + j + 1) * D)).toEqual(before.values[l].subarray((h * 10 + i) * D, (h * 10 + i + 1) * D));
        });
    expect(s.kvCacheBytes).toBe(3 * 2 * 2 * 4 * D * 4);
    await expect(s.keepPositions([[[0]]])).rejects.toThrow(/model has 3/);
    await expect(s.keepPositions(keep.map((l) => l.map(() => [0, 1, 2, 99])))).rejects.toThrow(/outside the cache/);
  });

  it("the attention scores output sums each head's probabilities over the window's queries", async () => {
    const s = await open(path.join(dir, "zoo-small", "model.onnx"));
    s.attentionWindow = 3;
    await s.prefill([5, 6, 7, 8, 9, 10, 11]);
    expect(s.lastAttention).toHaveLength(3);
    for (const layer of s.lastAttention!) {
      expect(layer.length).toBe(4 * 7);
      for (let h = 0; h < 4; h++) expect(layer.subarray(h * 7, h * 7 + 7).reduce((a, b) => a + b, 0)).toBeCloseTo(3, 5);
    }
    expect(() => exposeAttentionScores(path.join(ZOO, "zoo-small", "model.onnx"), path.join(dir, "bad.onnx"), 4)).toThrow(/attention pattern not recognised/);
  });
});

describe("decoding under a policy", () => {
  const prompt = [3, 40, 41, 42, 43, 44, 45, 46, 47, 48, 49, 50, 51, 52, 53, 54, 55, 56, 57, 58];
  const policies: KvPolicySpec[] = [
    { kind: "streaming", sinks: 4, window: 64 },
    { kind: "h2o", budget: 64, recentRatio: 0.5 },
    { kind: "snapkv", budget: 64, window: 8, kernel: 5 },
  ];

  it("a budget at or above the context reproduces the dense logits exactly (GQA model)", async () => {
    const s = await open(path.join(dir, "zoo-small", "model.onnx"));
    const dense = await generateWithPolicy(new KvPolicyState(s, { kind: "dense" }, 10000), prompt, 12);
    for (const p of policies) {
      const r = await generateWithPolicy(new KvPolicyState(s, p, 10000), prompt, 12);
      expect(r.tokens).toEqual(dense.tokens);
      expect(r.keptRatio).toBe(1);
    }
    // and the rewritten model's logits are the original model's
    const plain = await open(path.join(ZOO, "zoo-small", "model.onnx"));
    const a = await plain.prefill(prompt);
    const b = await s.prefill(prompt);
    for (let i = 0; i < a.length; i++) expect(Math.abs(a[i] - b[i])).toBeLessThan(1e-4);
  });

  it("evicting decodes deterministically within the budget", async () => {
    const s = await open(path.join(dir, "zoo-small", "model.onnx"));
    for (const p of [
      { kind: "streaming", sinks: 2, window: 6 },
      { kind: "h2o", budget: 8, recentRatio: 0.5 },
      { kind: "snapkv", budget: 8, window: 3, kernel: 3 },
    ] as KvPolicySpec[]) {
      const a = await generateWithPolicy(new KvPolicyState(s, p, 10000), prompt, 10);
      const b = await generateWithPolicy(new KvPolicyState(s, p, 10000), prompt, 10);
      expect(a.tokens).toEqual(b.tokens);
      expect(a.peakKvBytes).toBeLessThan((prompt.length + 10) * 3 * 2 * 2 * s.shape.headDim * 4);
      expect(a.keptRatio).toBeLessThan(1);
    }
  });

  it("an ascending keep moves rows within the host buffers and equals a gathered copy, rotation included", async () => {
    // the same prompt in two sessions; one keeps ascending lists (moved in place), the other the
    // same rows listed with one pair swapped and swapped back after (the gathering path)
    // a freshly built graph (new entries as outputs), so the session keeps its cache in host buffers
    const file = writeBuilt("gqa", GQA, 3);
    const a = await open(file);
    const b = await open(file);
    expect(a.hostCache).toBe(true);
    const ids = Array.from({ length: 40 }, (_, i) => (7 * i) % 64);
    await a.prefill(ids);
    await b.prefill(ids);
    const rng = new Rng(11);
    const K = 12;
    const keep = Array.from({ length: a.shape.numLayers }, () =>
      [0, 1].map(() =>
        [
          0,
          1,
          2,
          ...rng
            .sample(30, K - 6)
            .map((i) => i + 3)
            .sort((x, y) => x - y),
          37,
          38,
          39,
        ]
          .slice(0, K)
          .sort((x, y) => x - y),
      ),
    );
    const shift = Int32Array.from({ length: K }, (_, j) => 3 * j);
    await a.keepPositions(keep, { shift, ropeTheta: 10000 });
    const before = await b.readCache();
    await b.keepPositions(
      keep.map((l) => l.map((h) => [h[1], h[0], ...h.slice(2)])),
      { shift: Int32Array.from(shift, (_, j) => shift[j === 0 ? 1 : j === 1 ? 0 : j]), ropeTheta: 10000 },
    );
    const ca = await a.readCache();
    const cb = await b.readCache();
    const D = a.shape.headDim;
    expect(ca.length).toBe(K);
    for (let l = 0; l < keep.length; l++)
      for (let h = 0; h < 2; h++)
        for (let j = 0; j < K; j++) {
          const jb = j === 0 ? 1 : j === 1 ? 0 : j;
          expect(ca.keys[l].subarray((h * K + j) * D, (h * K + j + 1) * D)).toEqual(cb.keys[l].subarray((h * K + jb) * D, (h * K + jb + 1) * D));
          expect(ca.values[l].subarray((h * K + j) * D, (h * K + j + 1) * D)).toEqual(
            before.values[l].subarray((h * 40 + keep[l][h][j]) * D, (h * 40 + keep[l][h][j] + 1) * D),
          );
        }
    // a step after the in-place eviction attends to exactly the kept rows
    await b.writeCache(ca);
    const la = await a.step(5);
    const lb = await b.step(5);
    expect(Array.from(la)).toEqual(Array.from(lb));
    await expect(a.keepPositions(keep.map((l) => l.map((h) => [...h.slice(0, -1), 99])))).rejects.toThrow(/outside the cache/);
    expect(a.pastLength).toBe(K + 1);
  });

  it("StreamingLLM on the host cache: chunks, steps and position resets give the logits of recomputing the kept tokens", async () => {
    // a freshly built graph (host cache), one layer so that a kept entry's key and value do not
    // depend on the evicted tokens (as zoo-draft below); its 64-position context makes the offset
    // fold back into the keys several times
    const file = writeBuilt("gqa-stream", { ...GQA, num_layers: 1 }, 5);
    const s = await open(file);
    const fresh = await open(file);
    expect(s.hostCache).toBe(true);
    const S = 3;
    const W = 6;
    const state = new KvPolicyState(s, { kind: "streaming", sinks: S, window: W }, 10000);
    const ids = Array.from({ length: 200 }, (_, i) => (i * 37 + 11) % 64);
    await state.prefill(ids.slice(0, 4));
    await state.extend(ids.slice(4, 13)); // a chunk longer than the window
    await state.extend(ids.slice(13, 16));
    let maxDiff = 0;
    for (let i = 16; i < ids.length; i++) {
      const logits = await state.step(ids[i]);
      expect(s.pastLength).toBe(S + W);
      if (i % 23 === 0 || i === ids.length - 1) {
        const kept = [...ids.slice(0, S), ...ids.slice(i - W, i), ids[i]];
        const ref = (await fresh.forwardFull(kept)).slice((kept.length - 1) * s.shape.vocabSize);
        for (let v = 0; v < ref.length; v++) maxDiff = Math.max(maxDiff, Math.abs(ref[v] - logits[v]));
      }
    }
    expect(maxDiff).toBeLessThan(1e-4);
    // 184 steps on a 64-position model: the offset was folded back into the keys
    expect(s.pastLength + s.positionOffset).toBeLessThanOrEqual(64);
    expect(state.evicted).toBe(ids.length - S - W);
    // dropLast removes the newest entry wherever its slot is: the sinks and the last W - 1 tokens remain
    await state.step(5);
    await state.dropLast();
    expect(s.pastLength).toBe(S + W - 1);
    const next = await state.step(7);
    const kept = [...ids.slice(0, S), ...ids.slice(ids.length - W + 1), 7];
    const ref = (await fresh.forwardFull(kept)).slice((kept.length - 1) * s.shape.vocabSize);
    for (let v = 0; v < ref.length; v++) expect(Math.abs(ref[v] - next[v])).toBeLessThan(1e-4);
  });

  it("StreamingLLM's re-rotated keys give the logits of recomputing the kept tokens at their cache positions", async () => {
    const s = await open(path.join(dir, "zoo-draft", "model.onnx"));
    const fresh = await open(path.join(ZOO, "zoo-draft", "model.onnx"));
    const state = new KvPolicyState(s, { kind: "streaming", sinks: 2, window: 5 }, 10000);
    const ids = [7, 100, 101, 102, 103, 104, 105, 106, 107, 108, 109, 110, 111];
    await state.prefill(ids.slice(0, 1));
    let logits: Float32Array = new Float32Array();
    for (let i = 1; i < ids.length; i++) logits = await state.step(ids[i]);
    // the cache now holds the 2 sinks and the last 5 tokens (the step's own token included)
    expect(s.pastLength).toBe(7);
    const kept = [...ids.slice(0, 2), ...ids.slice(-5)];
    const next = await state.step(200);
    const ref = (await fresh.forwardFull([...kept, 200])).slice(7 * s.shape.vocabSize);
    let maxDiff = 0;
    for (let i = 0; i < ref.length; i++) maxDiff = Math.max(maxDiff, Math.abs(ref[i] - next[i]));
    expect(maxDiff).toBeLessThan(1e-4);
    expect(logits.length).toBe(s.shape.vocabSize);
  });
});
