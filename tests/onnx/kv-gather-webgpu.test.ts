import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { Rng } from "@/workers/data/rng";
import { rotateRows } from "@/workers/eval/decoder-session";
import { kvGatherModel, rotationTables } from "@/workers/onnx/kv-gather-graph";
import { HAS_CHROMIUM, startWebgpuHarness, watchPlacement, type WebgpuHarness } from "./webgpu-page";

/**
 * The KV gather graph (workers/onnx/kv-gather-graph.ts) on onnxruntime-web's WebGPU EP, in headless
 * Chromium with SwiftShader's WebGPU adapter (the CPU machines have no GPU). The cache is put on
 * the device by a gather with the identity index, gathered with outputs on gpu-buffer, and that
 * output gathered again (rotating the keys back) before anything is read: the data stays on the
 * device between the calls. One session per variant serves caches of 2 and 4 kv heads.
 */

const D = 8;
const THETA = 10000;

// Plain JavaScript run inside the page: kept as text so the test runner's transforms
// (which rewrite import() and wrap functions) never touch it.
const PAGE_RUN = `async (cases) => {
  const ortWeb = await import("/ort.webgpu.min.mjs");
  ortWeb.env.wasm.numThreads = 1;
  ortWeb.env.wasm.wasmPaths = "/";
  const adapter = navigator.gpu && (await navigator.gpu.requestAdapter());
  if (!adapter) return { error: "no WebGPU adapter" };
  const options = { executionProviders: ["webgpu"], preferredOutputLocation: "gpu-buffer", logSeverityLevel: 0 };
  const plain = await ortWeb.InferenceSession.create("/plain.onnx", options);
  const rotate = await ortWeb.InferenceSession.create("/rotate.onnx", options);
  const index = (rows, heads) => new ortWeb.Tensor("int32", Int32Array.from(rows), [1, heads, rows.length / heads, 1]);
  const results = [];
  for (const c of cases) {
    const H = c.heads, L = c.length;
    const host = new ortWeb.Tensor("float32", Float32Array.from(c.cache), [1, H, L, ${D}]);
    const identity = Array.from({ length: H * L }, (_, r) => r % L);
    const onDevice = (await plain.run({ cache: host, index: index(identity, H) })).kept;
    const first = (await plain.run({ cache: onDevice, index: index(c.first, H) })).kept;
    const K = c.second.length / H;
    const cos = new ortWeb.Tensor("float32", Float32Array.from(c.cos), [1, 1, K, ${D / 2}]);
    const sin = new ortWeb.Tensor("float32", Float32Array.from(c.sin), [1, 1, K, ${D / 2}]);
    const second = (await rotate.run({ cache: first, index: index(c.second, H), cos, sin })).kept;
    const locations = [onDevice.location, first.location, second.location];
    const kept = Array.from(await second.getData(true));
    onDevice.dispose();
    first.dispose();
    results.push({ locations, dims: second.dims, kept });
  }
  await plain.release();
  await rotate.release();
  return { results };
}`;

interface Case {
  heads: number;
  length: number;
  cache: number[];
  first: number[];
  second: number[];
  shift: number[];
  cos: number[];
  sin: number[];
}

/** out[h, j] = src[h, index[h * kept + j]], rows of D floats. */
function gatherRows(src: Float32Array, heads: number, length: number, index: number[]): Float32Array {
  const kept = index.length / heads;
  const out = new Float32Array(heads * kept * D);
  for (let r = 0; r < index.length; r++) {
    const h = Math.floor(r / kept);
    out.set(src.subarray((h * length + index[r]) * D, (h * length + index[r] + 1) * D), r * D);
  }
  return out;
}

function makeCase(rng: Rng, heads: number, length: number, firstKept: number, secondKept: number): Case {
  const cache = Array.from({ length: heads * length * D }, () => Math.fround(rng.next() * 4 - 2));
  // unsorted, with repeats
  const first = Array.from({ length: heads * firstKept }, () => rng.int(length));
  const second = Array.from({ length: heads * secondKept }, (_, r) => (r % secondKept === 0 ? firstKept - 1 : rng.int(firstKept)));
  const shift = Array.from({ length: secondKept }, (_, j) => (j === 0 ? 0 : 1 + rng.int(200)));
  const { cos, sin } = rotationTables(shift, D, THETA);
  return { heads, length, cache, first, second, shift, cos: Array.from(cos), sin: Array.from(sin) };
}

function reference(c: Case): Float32Array {
  const first = gatherRows(Float32Array.from(c.cache), c.heads, c.length, c.first);
  const kept = gatherRows(first, c.heads, c.first.length / c.heads, c.second);
  rotateRows(kept, c.second.length, D, (r) => c.shift[r % c.shift.length], THETA);
  return kept;
}

const models: Record<string, Uint8Array> = { "plain.onnx": kvGatherModel(D), "rotate.onnx": kvGatherModel(D, { rotate: true }) };
let harness: WebgpuHarness;

beforeAll(async () => {
  if (HAS_CHROMIUM) harness = await startWebgpuHarness(models);
});

afterAll(async () => {
  await harness?.close();
});

describe("kv gather graph on onnxruntime-web WebGPU (Chromium, SwiftShader)", () => {
  it.skipIf(!HAS_CHROMIUM)("gathers and re-rotates on the device, chained without a read-back, every node on the GPU", async () => {
    const rng = new Rng(21);
    const cases = [makeCase(rng, 2, 24, 10, 6), makeCase(rng, 4, 17, 9, 5)];

    const page = await harness.browser.newPage();
    const { log, cpuNodes } = watchPlacement(page);
    await page.goto(harness.origin);
    const got = (await page.evaluate(`(${PAGE_RUN})(${JSON.stringify(cases)})`)) as {
      error?: string;
      results?: { locations: string[]; dims: number[]; kept: number[] }[];
    };
    await page.close();
    expect(got.error).toBeUndefined();
    // the placement report is there to read, and names no node on the CPU
    expect(log.some((t) => t.includes("placed on [WebGpuExecutionProvider]"))).toBe(true);
    expect(cpuNodes).toEqual([]);
    cases.forEach((c, i) => {
      const r = got.results![i];
      expect(r.locations).toEqual(["gpu-buffer", "gpu-buffer", "gpu-buffer"]);
      expect(r.dims).toEqual([1, c.heads, c.second.length / c.heads, D]);
      const want = reference(c);
      let diff = 0;
      for (let k = 0; k < want.length; k++) diff = Math.max(diff, Math.abs(r.kept[k] - want[k]));
      expect(diff).toBeLessThan(1e-5);
    });
  });
});
