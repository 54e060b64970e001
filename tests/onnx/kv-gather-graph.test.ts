import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import * as ort from "onnxruntime-node";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { Rng } from "@/workers/data/rng";
import { DecoderSession, openDecoder, rotateRows, shapeFromFiles } from "@/workers/eval/decoder-session";
import { openRuntime, type RuntimeHandle } from "@/workers/runtimes";
import { writeDecoder } from "@/workers/onnx/decoder-builder";
import { kvGatherModel, rotationTables } from "@/workers/onnx/kv-gather-graph";
import { GQA, testWeights } from "./helpers";

/**
 * The KV gather graph (workers/onnx/kv-gather-graph.ts) on onnxruntime-node against plain loops:
 * per-head gathers of GQA-like caches with unsorted and repeated indices, the truncate case, and
 * the rotating variant against rotateRows. Then DecoderSession's device path (the one webgpu
 * takes), run on onnxruntime-node since the CPU machines have no WebGPU adapter for Node, against
 * its host cache mode on the builder's GQA decoder.
 */

const D = 8;
let plain: ort.InferenceSession;
let rotating: ort.InferenceSession;

beforeAll(async () => {
  plain = await ort.InferenceSession.create(kvGatherModel(D));
  rotating = await ort.InferenceSession.create(kvGatherModel(D, { rotate: true }));
});
afterAll(async () => {
  await plain.release();
  await rotating.release();
});

function randomCache(rng: Rng, heads: number, length: number): Float32Array {
  return Float32Array.from({ length: heads * length * D }, () => rng.next() * 4 - 2);
}

/** kept[h, j] = cache[h, index[h][j]], rows of D floats. */
function referenceGather(cache: Float32Array, heads: number, length: number, index: number[][]): Float32Array {
  const kept = index[0].length;
  const out = new Float32Array(heads * kept * D);
  for (let h = 0; h < heads; h++) {
    index[h].forEach((i, j) => out.set(cache.subarray((h * length + i) * D, (h * length + i + 1) * D), (h * kept + j) * D));
  }
  return out;
}

function indexTensor(index: number[][]): ort.Tensor {
  return new ort.Tensor("int32", Int32Array.from(index.flat()), [1, index.length, index[0].length, 1]);
}

async function gather(cache: Float32Array, heads: number, length: number, index: number[][], rotate?: { shift: number[]; theta: number }) {
  const feeds: Record<string, ort.Tensor> = {
    cache: new ort.Tensor("float32", cache, [1, heads, length, D]),
    index: indexTensor(index),
  };
  if (rotate) {
    const { cos, sin } = rotationTables(rotate.shift, D, rotate.theta);
    feeds.cos = new ort.Tensor("float32", cos, [1, 1, rotate.shift.length, D / 2]);
    feeds.sin = new ort.Tensor("float32", sin, [1, 1, rotate.shift.length, D / 2]);
  }
  const out = await (rotate ? rotating : plain).run(feeds);
  expect(out.kept.dims).toEqual([1, heads, index[0].length, D]);
  return out.kept.data as Float32Array;
}

function maxAbsDiff(a: Float32Array, b: Float32Array): number {
  expect(a.length).toBe(b.length);
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i] - b[i]));
  return m;
}

describe("kv gather graph on onnxruntime-node", () => {
  it("gathers each kv head's own rows, unsorted and repeated, for 2 and 4 heads", async () => {
    const rng = new Rng(11);
    for (const heads of [2, 4]) {
      for (const [length, kept] of [
        [13, 5],
        [7, 7],
        [30, 1],
      ]) {
        const cache = randomCache(rng, heads, length);
        const index = Array.from({ length: heads }, () => Array.from({ length: kept }, () => rng.int(length)));
        // one head keeps a repeated entry and a descending run
        if (kept >= 3) index[heads - 1].splice(0, 3, length - 1, 0, length - 1);
        const got = await gather(cache, heads, length, index);
        expect(got).toEqual(referenceGather(cache, heads, length, index));
      }
    }
  });

  it("crops to the first entries with the index 0..length-1 (truncate)", async () => {
    const rng = new Rng(12);
    const cache = randomCache(rng, 4, 9);
    const index = Array.from({ length: 4 }, () => [0, 1, 2, 3]);
    const got = await gather(cache, 4, 9, index);
    for (let h = 0; h < 4; h++) expect(got.subarray(h * 4 * D, (h + 1) * 4 * D)).toEqual(cache.subarray(h * 9 * D, (h * 9 + 4) * D));
  });

  it("rotates the kept keys back as rotateRows does, within 1e-5", async () => {
    const rng = new Rng(13);
    for (const heads of [2, 4]) {
      const length = 20;
      const index = Array.from({ length: heads }, () => [3, 0, 19, 7, 7, 12]);
      const shift = [0, 1, 5, 17, 2, 300];
      const theta = 10000;
      const cache = randomCache(rng, heads, length);
      const want = referenceGather(cache, heads, length, index);
      rotateRows(want, heads * shift.length, D, (r) => shift[r % shift.length], theta);
      const got = await gather(cache, heads, length, index, { shift, theta });
      expect(maxAbsDiff(got, want)).toBeLessThan(1e-5);
      // slot 0 turns by nothing: copied exactly
      expect(got.subarray(0, D)).toEqual(cache.subarray(3 * D, 4 * D));
    }
  });
});

/** The cpu runtime labelled webgpu: DecoderSession's device path, with tensors in host memory. */
async function devicePathSession(model: string): Promise<DecoderSession> {
  const cpu = await openRuntime("cpu");
  const handle: RuntimeHandle = { ...cpu, runtime: "webgpu" };
  const shape = shapeFromFiles(model);
  if (!shape) throw new Error(`${model}: no shape from its config`);
  return new DecoderSession(handle, await cpu.ort.InferenceSession.create(model, cpu.sessionOptions()), shape);
}

describe("DecoderSession's device gather path (run on onnxruntime-node)", () => {
  let dir: string;
  beforeAll(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), "kv-gather-"));
    writeDecoder(dir, GQA, { weights: testWeights(GQA, 5) });
  });
  afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

  it("keepPositions and truncate give the host path's caches", async () => {
    const model = path.join(dir, "model.onnx");
    const host = await openDecoder(model, "cpu");
    const device = await devicePathSession(model);
    expect(host.hostCache).toBe(true);
    expect(device.hostCache).toBe(false);
    const ids = [5, 9, 14, 3, 3, 17, 60, 8, 41, 2, 33];
    const rng = new Rng(14);
    const layers = host.shape.numLayers;
    const keep = Array.from({ length: layers }, () => [0, 1].map(() => Array.from({ length: 6 }, () => rng.int(ids.length))));
    const shift = Int32Array.from([0, 4, 1, 9, 2, 6]);
    for (const s of [host, device]) {
      await s.prefill(ids);
      await s.keepPositions(keep, { shift, ropeTheta: 10000 });
    }
    let a = await host.readCache();
    let b = await device.readCache();
    expect(b.length).toBe(6);
    for (let l = 0; l < layers; l++) {
      expect(maxAbsDiff(b.keys[l], a.keys[l])).toBeLessThan(1e-5);
      expect(b.values[l]).toEqual(a.values[l]);
    }
    // without rotation, then a crop to the first 4
    for (const s of [host, device]) {
      await s.prefill(ids);
      await s.keepPositions(keep);
      await s.truncate(4);
    }
    a = await host.readCache();
    b = await device.readCache();
    expect(b.length).toBe(4);
    for (let l = 0; l < layers; l++) {
      expect(b.keys[l]).toEqual(a.keys[l]);
      expect(b.values[l]).toEqual(a.values[l]);
    }
    // the next step reads the gathered cache as its past
    const [x, y] = [await host.step(17), await device.step(17)];
    expect(maxAbsDiff(y, x)).toBeLessThan(1e-4);
    await expect(device.keepPositions(keep.map((l) => l.map(() => [0, 1, 99])))).rejects.toThrow(/index 99 outside the cache of 5/);
    await expect(device.keepPositions([[[0]]])).rejects.toThrow(/model has 2/);
    expect(device.pastLength).toBe(5);
    await host.release();
    await device.release();
  });
});
