/**
 * Cache crop (DecoderSession.truncate) equals recomputing the kept prefix: after running prefix +
 * extra tokens and cropping back to the prefix, the next step's logits are those of a fresh prefill
 * of the prefix followed by the same step; cropping after a multi-token extend (speculative
 * verification) too.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { DecoderSession } from "../../workers/eval/decoder-session";
import { openZoo, zooPrompts, zooTokenizer } from "./helpers";

let a: DecoderSession;
let b: DecoderSession;
beforeAll(async () => {
  a = await openZoo("zoo-small");
  b = await openZoo("zoo-small");
});
afterAll(async () => {
  await a?.release();
  await b?.release();
});

function maxAbsDiff(x: Float32Array, y: Float32Array): number {
  expect(x.length).toBe(y.length);
  let m = 0;
  for (let i = 0; i < x.length; i++) m = Math.max(m, Math.abs(x[i] - y[i]));
  return m;
}

describe("KV cache crop", () => {
  it("crop then step equals prefill of the kept prefix then step", async () => {
    const tok = await zooTokenizer();
    const prompt = zooPrompts(tok, "grammar-test", 1, 8)[0];
    expect(prompt.length).toBeGreaterThan(10);
    for (const keep of [1, 5, prompt.length - 3]) {
      await a.prefill(prompt);
      await a.extend([11, 12, 13]);
      await a.truncate(keep);
      expect(a.pastLength).toBe(keep);
      const cropped = await a.step(42);
      await b.prefill(prompt.slice(0, keep));
      const fresh = await b.step(42);
      expect(maxAbsDiff(cropped, fresh)).toBeLessThan(1e-4);
      // and a multi-token extend after the crop (the next verification) agrees too
      expect(maxAbsDiff(await a.extend([7, 8, 9]), await b.extend([7, 8, 9]))).toBeLessThan(1e-4);
    }
  });

  it("keeps GQA layouts head by head (zoo-small has 2 kv heads of 24 dims)", async () => {
    expect(a.shape.numKvHeads).toBe(2);
    await a.prefill([3, 4, 5, 6, 7, 8]);
    const before = await a.readCache();
    await a.truncate(4);
    const after = await a.readCache();
    const D = a.shape.headDim;
    for (let l = 0; l < a.shape.numLayers; l++) {
      for (let h = 0; h < 2; h++) {
        expect(after.keys[l].subarray(h * 4 * D, (h + 1) * 4 * D)).toEqual(before.keys[l].subarray(h * 6 * D, (h * 6 + 4) * D));
        expect(after.values[l].subarray(h * 4 * D, (h + 1) * 4 * D)).toEqual(before.values[l].subarray(h * 6 * D, (h * 6 + 4) * D));
      }
    }
  });

  it("refuses to grow the cache or crop to a fraction", async () => {
    await a.prefill([3, 4, 5]);
    await expect(a.truncate(4)).rejects.toThrow(/cannot truncate a cache of 3 tokens to 4/);
    await expect(a.truncate(1.5)).rejects.toThrow(/cannot truncate/);
  });
});
