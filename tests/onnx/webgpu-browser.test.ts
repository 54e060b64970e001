import { existsSync, readFileSync } from "node:fs";
import http from "node:http";
import path from "node:path";
import * as ort from "onnxruntime-node";
import { chromium, type Browser } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { buildDecoder } from "@/workers/onnx/decoder-builder";
import { encodeModel } from "@/workers/onnx/model-io";
import { decoderFeeds, GQA, maxAbs, maxAbsDiff, PADDED_BATCH, testWeights } from "./helpers";

/**
 * The builder's graph on onnxruntime-web's WebGPU EP, in headless Chromium with SwiftShader's
 * WebGPU adapter (the CPU machines have no GPU). Compared against onnxruntime-node.
 */

const CHROMIUM = "/usr/bin/chromium";
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
const dist = path.resolve("node_modules/onnxruntime-web/dist");
let server: http.Server;
let browser: Browser;
let origin = "";

beforeAll(async () => {
  server = http.createServer((req, res) => {
    const name = path.basename(req.url ?? "/");
    if (req.url === "/") return void res.setHeader("content-type", "text/html").end("<!doctype html><title>webgpu</title>");
    if (name === "model.onnx") return void res.end(Buffer.from(model));
    const file = path.join(dist, name);
    if (!/^ort[\w.-]*\.(mjs|wasm)$/.test(name) || !existsSync(file)) return void res.writeHead(404).end();
    res.setHeader("content-type", name.endsWith(".wasm") ? "application/wasm" : "text/javascript");
    res.end(readFileSync(file));
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  origin = `http://127.0.0.1:${(server.address() as { port: number }).port}`;
  browser = await chromium.launch({
    executablePath: CHROMIUM,
    args: [
      "--headless=new",
      "--no-sandbox",
      "--enable-unsafe-webgpu",
      "--use-webgpu-adapter=swiftshader",
      "--disable-background-networking",
      "--disable-component-update",
      "--disable-sync",
      "--no-first-run",
    ],
  });
});

afterAll(async () => {
  await browser?.close();
  server?.close();
});

describe("decoder on onnxruntime-web WebGPU (Chromium, SwiftShader)", () => {
  it("matches onnxruntime-node logits, with only the int64 mask arithmetic left on CPU", async () => {
    const s = await ort.InferenceSession.create(model);
    const want = (await s.run(decoderFeeds(ort, CONFIG, { ids: IDS, mask: MASK, pos: POS }))).logits.data as Float32Array;
    await s.release();

    const page = await browser.newPage();
    const cpuNodes: string[] = [];
    let onCpu = false;
    page.on("console", (m) => {
      const text = m.text();
      if (text.includes("placed on [")) onCpu = text.includes("[CPUExecutionProvider]");
      else if (onCpu && text.includes("VerifyEachNodeIsAssignedToAnEp]   ")) cpuNodes.push(text.split("]   ")[1]);
    });
    await page.goto(origin);
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
