import { afterAll, beforeAll, describe, expect, it } from "vitest";
import fs from "node:fs";
import { argmax, DecoderSession, openDecoder, shapeFromFiles } from "@/workers/eval/decoder-session";
import { dropPositionIdsInput, tempDir, writeRandomModel } from "./fixtures";

let dir: string;
let modelPath: string;
let cpu: DecoderSession;

beforeAll(async () => {
  dir = tempDir("decoder");
  modelPath = writeRandomModel(dir, { seed: 11 });
  cpu = await openDecoder(modelPath, "cpu");
});
afterAll(async () => {
  await cpu?.release();
  fs.rmSync(dir, { recursive: true, force: true });
});

const prompt = [5, 17, 250, 3, 99, 42, 7, 128];

function maxAbsDiff(a: Float32Array, b: Float32Array): number {
  expect(a.length).toBe(b.length);
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i] - b[i]));
  return m;
}

describe("decoder session", () => {
  it("reads layers, kv heads, head dim, vocab and context from the graph and config.json", () => {
    expect(cpu.shape).toEqual({ numLayers: 2, numKvHeads: 2, headDim: 8, vocabSize: 300, maxPosition: 128, hasPositionIds: true });
  });

  it("cpu and wasm sessions give the same logits (1e-4)", async () => {
    const wasm = await openDecoder(modelPath, "wasm");
    try {
      const a = await cpu.forwardFull(prompt);
      const b = await wasm.forwardFull(prompt);
      expect(a.length).toBe(prompt.length * 300);
      expect(maxAbsDiff(a, b)).toBeLessThan(1e-4);
      // The cached path agrees across runtimes too.
      const sa = Float32Array.from(await cpu.prefill(prompt));
      const sb = Float32Array.from(await wasm.prefill(prompt));
      expect(maxAbsDiff(sa, sb)).toBeLessThan(1e-4);
    } finally {
      await wasm.release();
    }
  });

  it("cached decode steps equal a full recompute, logits and greedy tokens", async () => {
    const generated = await cpu.generate(prompt, 12);
    expect(generated).toHaveLength(12);
    expect(cpu.pastLength).toBe(prompt.length + 11);
    // Recompute every step from scratch with no cache.
    const seq = [...prompt];
    for (let i = 0; i < 12; i++) {
      const full = await cpu.forwardFull(seq);
      seq.push(argmax(full.subarray(full.length - 300)));
    }
    expect(seq.slice(prompt.length)).toEqual(generated);

    await cpu.prefill(prompt);
    const stepLogits = Float32Array.from(await cpu.step(generated[0]));
    const full = await cpu.forwardFull([...prompt, generated[0]]);
    expect(maxAbsDiff(stepLogits, full.subarray(full.length - 300))).toBeLessThan(1e-4);
  });

  it("keeps the cache in host buffers with the same logits as the round-trip cache: growth, truncate, eviction, cache writes", async () => {
    // The builder's graph outputs each call's own keys and values, so cpu keeps the cache itself.
    expect(cpu.hostCache).toBe(true);
    const roundTrip = new DecoderSession(cpu.handle, cpu.session, cpu.shape, { hostCache: false });
    expect(roundTrip.hostCache).toBe(false);
    const both = async (f: (d: DecoderSession) => Promise<Float32Array>) => maxAbsDiff(Float32Array.from(await f(cpu)), Float32Array.from(await f(roundTrip)));
    // 8 prompt tokens + 60 steps: the host buffers grow several times (32, 64, 96 slots)
    expect(await cpu.generate(prompt, 60)).toEqual(await roundTrip.generate(prompt, 60));
    expect(cpu.pastLength).toBe(roundTrip.pastLength);
    expect(await both((d) => d.step(77))).toBeLessThan(1e-5);
    expect(await both((d) => d.extend([3, 4, 5]))).toBeLessThan(1e-5);
    await cpu.truncate(20);
    await roundTrip.truncate(20);
    expect(await both((d) => d.step(8))).toBeLessThan(1e-5);
    const a = await cpu.readCache();
    const b = await roundTrip.readCache();
    expect(a.length).toBe(21);
    for (let l = 0; l < 2; l++) expect(maxAbsDiff(a.keys[l], b.keys[l]) + maxAbsDiff(a.values[l], b.values[l])).toBeLessThan(1e-5);
    // per-head eviction (H2O/SnapKV's keepPositions) and positions continuing past the cache
    const keep = [0, 1].map(() => [
      [0, 3, 5, 9, 20],
      [1, 2, 7, 19, 20],
    ]);
    await cpu.keepPositions(keep);
    await roundTrip.keepPositions(keep);
    cpu.positionOffset = 16;
    roundTrip.positionOffset = 16;
    expect(await both((d) => d.step(12))).toBeLessThan(1e-5);
    await cpu.writeCache(b);
    await roundTrip.writeCache(b);
    cpu.positionOffset = 0;
    roundTrip.positionOffset = 0;
    expect(await both((d) => d.extend([9, 10]))).toBeLessThan(1e-5);
    // and both equal a recompute of the same tokens from scratch
    await cpu.prefill(prompt);
    const step = Float32Array.from(await cpu.step(42));
    const full = await roundTrip.forwardFull([...prompt, 42]);
    expect(maxAbsDiff(step, full.subarray(full.length - 300))).toBeLessThan(1e-4);
    roundTrip.reset();
  });

  it("extend, truncate and cache round trips keep the cache consistent", async () => {
    await cpu.prefill(prompt);
    await cpu.extend([1, 2, 3]);
    expect(cpu.pastLength).toBe(prompt.length + 3);
    await cpu.truncate(prompt.length);
    const afterTruncate = Float32Array.from(await cpu.step(9));
    await cpu.prefill(prompt);
    const direct = Float32Array.from(await cpu.step(9));
    expect(maxAbsDiff(afterTruncate, direct)).toBeLessThan(1e-5);

    const cache = await cpu.readCache();
    expect(cache.length).toBe(prompt.length + 1);
    expect(cache.keys[0]).toHaveLength(2 * (prompt.length + 1) * 8);
    await cpu.writeCache(cache);
    const viaWrite = Float32Array.from(await cpu.step(4));
    await cpu.prefill([...prompt, 9]);
    const viaPrefill = Float32Array.from(await cpu.step(4));
    expect(maxAbsDiff(viaWrite, viaPrefill)).toBeLessThan(1e-5);
  });

  it("logprobs reuse a cached prefix and match a fresh computation", async () => {
    const cont = [44, 45, 46];
    cpu.reset();
    const fresh = await cpu.logprobs(prompt, cont);
    const reused = await cpu.logprobs(prompt, [44, 45, 47]);
    const again = await cpu.logprobs(prompt, cont); // prefix reuse path
    expect(reused[0]).toBeCloseTo(fresh[0], 5);
    for (let i = 0; i < 3; i++) expect(again[i]).toBeCloseTo(fresh[i], 5);
    for (const lp of fresh) expect(lp).toBeLessThan(0);
  });

  it("rejects ids outside the vocabulary and contexts past max_position, naming the problem", async () => {
    await expect(cpu.prefill([300])).rejects.toThrow(/outside the vocabulary/);
    await expect(cpu.forwardFull(new Array(129).fill(1))).rejects.toThrow(/exceeds the model's maximum of 128/);
  });

  it("runs a decoder with no position_ids input (positions computed in the graph) with the same logits", async () => {
    const noPos = `${dir}/nopos/model.onnx`;
    dropPositionIdsInput(modelPath, noPos);
    const other = await openDecoder(noPos, "cpu", { configPath: `${dir}/config.json` });
    try {
      expect(other.session.inputNames).not.toContain("position_ids");
      expect(other.shape.hasPositionIds).toBe(false);
      expect(maxAbsDiff(await other.forwardFull(prompt), await cpu.forwardFull(prompt))).toBeLessThan(1e-5);
      expect(await other.generate(prompt, 6)).toEqual(await cpu.generate(prompt, 6));
    } finally {
      await other.release();
    }
  });

  it("loads a model with external data from bytes, the way the webgpu runtime does", async () => {
    const ext = `${dir}/ext`;
    const extModel = writeRandomModel(ext, { seed: 11, externalDataThreshold: 1024 });
    expect(fs.existsSync(`${ext}/model.onnx.data`)).toBe(true);
    const fromBytes = await openDecoder(extModel, "wasm", { fromBytes: true });
    try {
      expect(maxAbsDiff(await fromBytes.forwardFull(prompt), await cpu.forwardFull(prompt))).toBeLessThan(1e-4);
    } finally {
      await fromBytes.release();
    }
  });

  it("says what is wrong with a file that is not a decoder with past", async () => {
    await expect(openDecoder(`${dir}/missing.onnx`, "cpu")).rejects.toThrow(/not found/);
  });
});

describe("shape without a session", () => {
  it("shapeFromFiles reads the same dimensions from config.json and the graph inputs", () => {
    expect(shapeFromFiles(modelPath)).toEqual(cpu.shape);
    expect(shapeFromFiles(modelPath, { configPath: `${dir}/none.json` })).toBeNull();
  });
});
