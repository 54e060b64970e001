import * as ort from "onnxruntime-node";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { buildDecoder } from "@/workers/onnx/decoder-builder";
import { encodeModel } from "@/workers/onnx/model-io";
import { decoderFeeds, GQA, maxAbs, maxAbsDiff, PADDED_BATCH, testWeights } from "./helpers";
import { startWebgpuHarness, watchPlacement, type WebgpuHarness } from "./webgpu-page";

/**
 * The builder's graph on onnxruntime-web's WebGPU EP, in headless Chromium with SwiftShader's
 * WebGPU adapter (the CPU machines have no GPU). Compared against onnxruntime-node.
 */

const CONFIG = GQA;
const { ids: IDS, mask: MASK, pos: POS } = PADDED_BATCH;

// Plain JavaScript run inside the page: kept as text so the test runner's transforms
// (which rewrite import() and wrap functions) never touch it.
const PAGE_RUN = `async ({ ids, mask, pos, layers, kv, hd }) => {
  const ortWeb = await import("/ort.webgpu.min.mjs");
  ortWeb.env.wasm.numThreads = 1;
  ortWeb.env.wasm.wasmPaths = "/";
  const adapter = navigator.gpu && (await navigator.gpu.requestAdapter());
  if (!adapter) return { error: "no WebGPU adapter" };
  const session = await ortWeb.InferenceSession.create("/model.onnx", { executionProviders: ["webgpu"], logSeverityLevel: 0 });
  const i64 = (rows) => BigInt64Array.from(rows.flat().map(BigInt));
  const B = ids.length, T = ids[0].length;
  const feeds = {
    input_ids: new ortWeb.Tensor("int64", i64(ids), [B, T]),
    attention_mask: new ortWeb.Tensor("int64", i64(mask), [B, T]),
    position_ids: new ortWeb.Tensor("int64", i64(pos), [B, T]),
  };
  for (let l = 0; l < layers; l++)
    for (const name of ["key", "value"])
      feeds["past_key_values." + l + "." + name] = new ortWeb.Tensor("float32", new Float32Array(0), [B, kv, 0, hd]);
  const out = await session.run(feeds);
  return { logits: Array.from(out.logits.data) };
}`;

const model = encodeModel(buildDecoder(CONFIG, { weights: testWeights(CONFIG, 5) }));
let harness: WebgpuHarness;

beforeAll(async () => {
  harness = await startWebgpuHarness({ "model.onnx": model });
});

afterAll(async () => {
  await harness?.close();
});

describe("decoder on onnxruntime-web WebGPU (Chromium, SwiftShader)", () => {
  it("matches onnxruntime-node logits, with only the int64 mask arithmetic left on CPU", async () => {
    const s = await ort.InferenceSession.create(model);
    const want = (await s.run(decoderFeeds(ort, CONFIG, { ids: IDS, mask: MASK, pos: POS }))).logits.data as Float32Array;
    await s.release();

    const page = await harness.browser.newPage();
    const { cpuNodes } = watchPlacement(page);
    await page.goto(harness.origin);
    const args = JSON.stringify({ ids: IDS, mask: MASK, pos: POS, layers: CONFIG.num_layers, kv: CONFIG.num_kv_heads, hd: 8 });
    const got = (await page.evaluate(`(${PAGE_RUN})(${args})`)) as { error?: string; logits?: number[] };
    await page.close();
    expect(got.error).toBeUndefined();
    expect(maxAbs(want)).toBeGreaterThan(0.5);
    expect(maxAbsDiff(Float32Array.from(got.logits!), want)).toBeLessThan(1e-4);
    // every weight-bearing op runs on the GPU; the CPU keeps only the shape/mask index arithmetic
    expect(cpuNodes.length).toBeGreaterThan(0);
    expect(cpuNodes.every((n) => n.includes("(/mask/"))).toBe(true);
  });
});
