/**
 * ONNX Runtime back ends a job can run on, behind one small interface:
 *  - cpu:    onnxruntime-node, all graph optimisations, one intra-op thread per core
 *  - wasm:   onnxruntime-web's Node build (wasm EP), for parity checks against cpu
 *  - webgpu: onnxruntime-web's WebGPU build inside Node through Dawn (the `webgpu` package)
 * Each runtime is loaded once per process; the two packages have separate Tensor classes, so
 * tensors must always be created with `handle.ort.Tensor` of the runtime that consumes them.
 */
import os from "node:os";
import fs from "node:fs";
import path from "node:path";
import { createRequire } from "node:module";
import { pathToFileURL } from "node:url";
import type * as OrtCommon from "onnxruntime-common";
import type { HardwareFingerprint, Runtime } from "../types";
import { cpuFeatures } from "./isa";

export type OrtApi = Pick<typeof OrtCommon, "InferenceSession" | "Tensor" | "env">;
export type OrtSession = OrtCommon.InferenceSession;
export type OrtTensor = OrtCommon.Tensor;
export type SessionOptions = OrtCommon.InferenceSession.SessionOptions;

export interface AdapterInfo {
  vendor: string;
  architecture: string;
  description: string;
  device?: string;
}

/** Bytes of GPU buffers created through the WebGPU device (observed by wrapping createBuffer). */
export interface GpuBufferStats {
  liveBytes: number;
  peakBytes: number;
  resetPeak(): void;
}

export interface RuntimeHandle {
  runtime: Runtime;
  ort: OrtApi;
  /**
   * Session options. Under webgpu every output stays on the device as a GPU buffer, so the KV
   * cache is fed back without a round trip; callers read back only what they need (logits).
   */
  sessionOptions(): SessionOptions;
  adapter?: AdapterInfo;
  gpu?: GpuBufferStats;
}

/** Thrown when a runtime cannot start on this machine; the message is one line meant for people. */
export class RuntimeUnavailableError extends Error {}

export const SERVER_RUNTIMES: readonly Runtime[] = ["cpu", "wasm", "webgpu"];

/**
 * onnxruntime fuses DequantizeLinear + MatMul into MatMulNBits when it optimises a graph, with
 * accuracy_level 4 (int8 activations) unless told otherwise: a "weight-only" qdq model would then
 * be measured as W4A8. Every session Frontier opens keeps qdq models weight-only; W4A8 is asked for
 * explicitly through MatMulNBits' own accuracy_level.
 */
export const WEIGHT_ONLY_QDQ = { session: { qdq_matmulnbits_accuracy_level: "0" } } as const;

const require = createRequire(import.meta.url);
const handles = new Map<Runtime, Promise<RuntimeHandle>>();

export function openRuntime(runtime: Runtime): Promise<RuntimeHandle> {
  let h = handles.get(runtime);
  if (!h) {
    h = load(runtime);
    // A failed start is not cached: a later probe on a machine that gained a driver may succeed.
    h.catch(() => handles.delete(runtime));
    handles.set(runtime, h);
  }
  return h;
}

async function load(runtime: Runtime): Promise<RuntimeHandle> {
  switch (runtime) {
    case "cpu":
      return loadCpu();
    case "wasm":
      return loadWasm();
    case "webgpu":
      return loadWebGpu();
    case "browser":
      throw new RuntimeUnavailableError("browser: runs only in a visitor's tab at /worker, not in a Node worker");
  }
}

function cores(): number {
  return Math.max(1, os.availableParallelism?.() ?? os.cpus().length);
}

async function loadCpu(): Promise<RuntimeHandle> {
  const ort = (await import("onnxruntime-node")) as unknown as OrtApi;
  return {
    runtime: "cpu",
    ort,
    sessionOptions: () => ({
      executionProviders: ["cpu"],
      graphOptimizationLevel: "all",
      intraOpNumThreads: cores(),
      interOpNumThreads: 1,
      extra: WEIGHT_ONLY_QDQ,
    }),
  };
}

function ortWebDir(): string {
  // The package's exports map hides package.json and dist/*; its main entry sits in dist/.
  return path.dirname(path.dirname(require.resolve("onnxruntime-web")));
}

async function loadWasm(): Promise<RuntimeHandle> {
  const ort = (await import("onnxruntime-web")) as unknown as OrtApi;
  ort.env.wasm.numThreads = cores();
  return {
    runtime: "wasm",
    ort,
    sessionOptions: () => ({ executionProviders: ["wasm"], graphOptimizationLevel: "all", extra: WEIGHT_ONLY_QDQ }),
  };
}

let gpuStats: GpuBufferStats | undefined;

/** Where the NVIDIA container runtime mounts its Vulkan ICD; Dawn does not look there by itself. */
const NVIDIA_CONTAINER_ICD = "/usr/local/nvidia/share/vulkan/icd.d/nvidia_icd.json";

async function loadWebGpu(): Promise<RuntimeHandle> {
  // Must be set before Dawn initialises Vulkan (at create()); an explicit setting wins.
  if (!process.env.VK_DRIVER_FILES && fs.existsSync(NVIDIA_CONTAINER_ICD)) process.env.VK_DRIVER_FILES = NVIDIA_CONTAINER_ICD;
  const { create, globals } = (await import("webgpu")) as unknown as {
    create(flags: string[]): GPU;
    globals: Record<string, unknown>;
  };
  Object.assign(globalThis, globals);
  const gpu = create([]);
  const adapter = await gpu.requestAdapter();
  if (!adapter) throw new RuntimeUnavailableError("webgpu: no GPU adapter found (Dawn)");
  const info = adapter.info;
  const adapterInfo: AdapterInfo = {
    vendor: info.vendor,
    architecture: info.architecture,
    description: info.description,
    device: info.device || undefined,
  };
  // Node 20 has no global navigator; ORT's WebGPU backend looks for navigator.gpu.
  Object.defineProperty(globalThis, "navigator", { value: { gpu }, configurable: true, writable: true });
  patchDawn();
  const url = pathToFileURL(path.join(ortWebDir(), "dist", "ort.webgpu.min.mjs")).href;
  const ort = (await import(/* @vite-ignore */ url)) as OrtApi;
  // The threaded build fails in Node with "Dynamic require of node:os" (docs: PLATFORM.md).
  ort.env.wasm.numThreads = 1;
  return {
    runtime: "webgpu",
    ort,
    adapter: adapterInfo,
    gpu: gpuStats,
    sessionOptions: () => ({
      executionProviders: ["webgpu"],
      graphOptimizationLevel: "all",
      preferredOutputLocation: "gpu-buffer",
      extra: WEIGHT_ONLY_QDQ,
    }),
  };
}

/**
 * Dawn rejects writeBuffer from views over a SharedArrayBuffer (ORT's wasm heap), so such views
 * are copied first. createBuffer/destroy are wrapped to count the bytes of live GPU buffers: that
 * is what gpu_buffer_bytes reports (weights, KV cache and ORT's scratch buffers together).
 */
function patchDawn(): void {
  if (gpuStats) return;
  const g = globalThis as unknown as {
    GPUQueue: { prototype: GPUQueue };
    GPUDevice: { prototype: GPUDevice };
    GPUBuffer: { prototype: GPUBuffer };
  };
  const write = g.GPUQueue.prototype.writeBuffer;
  g.GPUQueue.prototype.writeBuffer = function (this: GPUQueue, buffer, offset, data, dataOffset?, size?) {
    let src = data;
    if (data instanceof SharedArrayBuffer) {
      // Offsets into an ArrayBuffer count bytes, as they do for the Uint8Array copy.
      return write.call(this, buffer, offset, new Uint8Array(data).slice(), dataOffset, size);
    }
    if (ArrayBuffer.isView(data) && data.buffer instanceof SharedArrayBuffer) {
      src = new Uint8Array(data.buffer, data.byteOffset, data.byteLength).slice();
      const bpe = (data as unknown as { BYTES_PER_ELEMENT?: number }).BYTES_PER_ELEMENT ?? 1;
      // dataOffset and size count elements of the original view; the copy is bytes.
      return write.call(this, buffer, offset, src, dataOffset === undefined ? undefined : dataOffset * bpe, size === undefined ? undefined : size * bpe);
    }
    return write.call(this, buffer, offset, src, dataOffset, size);
  } as GPUQueue["writeBuffer"];

  const stats = { liveBytes: 0, peakBytes: 0, resetPeak: () => (stats.peakBytes = stats.liveBytes) };
  const sizes = new WeakMap<GPUBuffer, number>();
  const createBuffer = g.GPUDevice.prototype.createBuffer;
  g.GPUDevice.prototype.createBuffer = function (this: GPUDevice, desc: GPUBufferDescriptor) {
    const buf = createBuffer.call(this, desc);
    sizes.set(buf, desc.size);
    stats.liveBytes += desc.size;
    stats.peakBytes = Math.max(stats.peakBytes, stats.liveBytes);
    return buf;
  };
  const destroy = g.GPUBuffer.prototype.destroy;
  g.GPUBuffer.prototype.destroy = function (this: GPUBuffer) {
    const n = sizes.get(this);
    if (n !== undefined) {
      stats.liveBytes -= n;
      sizes.delete(this);
    }
    return destroy.call(this);
  };
  gpuStats = stats;
}

export interface RuntimeProbe {
  available: Runtime[];
  /** One line per runtime that did not start, e.g. "webgpu: no GPU adapter found (Dawn)". */
  unavailable: { runtime: Runtime; reason: string }[];
  /** One line for people: what is offered and why anything is missing. */
  summary: string;
}

/** Identity graph y = x (opset 13), built by hand so probing needs no model file. */
function identityModel(): Uint8Array {
  const tensorType = (name: string) => [
    ...field(1, bytes(name)),
    ...field(2, [...field(1, varintField(1, 1))]), // tensor_type { elem_type: FLOAT }, rank unknown
  ];
  const node = [...field(1, bytes("x")), ...field(2, bytes("y")), ...field(4, bytes("Identity"))];
  const graph = [...field(1, node), ...field(2, bytes("probe")), ...field(11, tensorType("x")), ...field(12, tensorType("y"))];
  const opset = [...field(1, []), ...varintField(2, 13)];
  return new Uint8Array([...varintField(1, 8), ...field(7, graph), ...field(8, opset)]);
}
function bytes(s: string): number[] {
  return [...Buffer.from(s, "utf8")];
}
function varint(n: number): number[] {
  const out: number[] = [];
  while (n > 0x7f) {
    out.push((n & 0x7f) | 0x80);
    n >>>= 7;
  }
  out.push(n);
  return out;
}
function varintField(num: number, v: number): number[] {
  return [...varint(num << 3), ...varint(v)];
}
function field(num: number, payload: number[]): number[] {
  return [...varint((num << 3) | 2), ...varint(payload.length), ...payload];
}

/** Which runtimes actually start here: each one loads and runs a one-node session. */
export async function probeRuntimes(candidates: readonly Runtime[] = SERVER_RUNTIMES): Promise<RuntimeProbe> {
  const available: Runtime[] = [];
  const unavailable: { runtime: Runtime; reason: string }[] = [];
  const model = identityModel();
  for (const runtime of candidates) {
    try {
      const h = await openRuntime(runtime);
      const session = await h.ort.InferenceSession.create(model, h.sessionOptions());
      const x = new h.ort.Tensor("float32", new Float32Array([1, 2, 3]), [3]);
      const out = await session.run({ x });
      const y = (await out.y.getData()) as Float32Array;
      if (y[2] !== 3) throw new Error("probe session returned wrong values");
      await session.release();
      available.push(runtime);
    } catch (e) {
      const msg = e instanceof RuntimeUnavailableError ? e.message : `${runtime}: ${(e as Error).message.split("\n")[0]}`;
      unavailable.push({ runtime, reason: msg });
    }
  }
  const offer = `offering ${available.length ? available.join(", ") : "nothing"}`;
  const summary = unavailable.length ? `${unavailable.map((u) => u.reason).join("; ")}; ${offer}` : offer;
  return { available, unavailable, summary };
}

function ortVersion(runtime: Runtime): string {
  const pkg = runtime === "cpu" ? "onnxruntime-node" : "onnxruntime-web";
  const dir = runtime === "cpu" ? path.dirname(path.dirname(require.resolve(pkg))) : ortWebDir();
  const json = JSON.parse(fs.readFileSync(path.join(dir, "package.json"), "utf8")) as { version: string };
  return `${pkg}@${json.version}`;
}

/** The machine a run executed on; for webgpu it starts the runtime to read the adapter. */
export async function hardwareFingerprint(runtime: Runtime): Promise<HardwareFingerprint> {
  const cpus = os.cpus();
  const fp: HardwareFingerprint = {
    runtime,
    ortVersion: ortVersion(runtime),
    cpuModel: cpus[0]?.model.trim() ?? "unknown",
    cpuCores: cpus.length,
    memoryBytes: os.totalmem(),
    platform: `${process.platform}-${process.arch}`,
    nodeVersion: process.version,
    isa: cpuFeatures(),
  };
  if (runtime === "webgpu") {
    const h = await openRuntime("webgpu");
    if (h.adapter) fp.adapter = h.adapter;
  }
  return fp;
}
