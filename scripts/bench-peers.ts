/**
 * `npm run bench:peers`: Frontier's CPU engine (onnxruntime-node, the worker's session options)
 * against llama.cpp (node-llama-cpp, pinned devDependency) on the same shape-model weights, the
 * llama.cpp side reading the GGUF that workers/export/gguf.ts writes from the ONNX model.
 *
 * Weights: fp32 (ONNX fp32 vs GGUF F32) and 4-bit symmetric group 32, every linear including the
 * tied head (the same codes: ONNX MatMulNBits at accuracy_level 0 = W4A16 and at accuracy_level 4
 * = W4A8, vs GGUF Q4_0, whose dot products quantize activations to 8-bit blocks, so W4A8).
 * Per run: a prompt of --prompt ids (seeded), then --decode greedy steps, timed per step; each
 * engine in its own child process; rounds interleave the engines (order alternating) so both see
 * the same load. 1-thread runs are pinned to one core (taskset) when taskset exists.
 *
 * Options: --models=125m,1b --threads=1,2 --weights=fp32,q4 --rounds=3 --prompt=128 --decode=64
 *          --shapes=data/shapes (shape models, as the worker caches them) --out=data/peers
 *          --lever=prealloc (adds each Frontier engine with preallocated logits/KV outputs, interleaved)
 *          --lever=hostcache (adds each Frontier engine with its cache round-tripping as present tensors, interleaved)
 *          --profile (instead of the comparison: onnxruntime's kernel time per op type of Frontier's decode steps)
 *          --breakdown (instead of the comparison: what a decode step costs outside the kernels, see breakdown())
 */
import { spawnSync } from "node:child_process";
import { closeSync, existsSync, mkdirSync, mkdtempSync, openSync, readdirSync, readFileSync, readSync, statSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { performance } from "node:perf_hooks";
import { fileURLToPath } from "node:url";
import { seededRng } from "../workers/eval/dataset";
import type { DecoderShape } from "../workers/eval/types";
import { clusterBootstrapMedian, pairedRatioBootstrap } from "../workers/eval/intervals";
import { modelStats } from "../workers/eval/model-stats";

const self = fileURLToPath(import.meta.url);

function arg(name: string, fallback: string): string {
  const hit = process.argv.find((a) => a.startsWith(`--${name}=`));
  return hit ? hit.slice(name.length + 3) : fallback;
}

interface RunSpec {
  engine: "frontier" | "llama.cpp";
  file: string;
  threads: number;
  prompt: number[];
  decode: number;
  /** Frontier only: onnxruntime's profiler on, trace written with this prefix. */
  profilePrefix?: string;
  /**
   * Frontier only (the lever under test): logits and present key/values written by onnxruntime
   * straight into buffers allocated once (two per cache tensor, alternating as past and present),
   * instead of a fresh output array per tensor and step copied out of onnxruntime's memory.
   */
  prealloc?: boolean;
  /** Frontier only: the cache round-trips through onnxruntime as present tensors (host cache mode off). */
  roundTrip?: boolean;
}

interface RunResult {
  prefillMs: number;
  decodeMs: number[];
  tokens: number[];
  /** With profilePrefix: per op type, microseconds summed over the decode steps. */
  profile?: Record<string, number>;
}

const median = (xs: readonly number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
};

/**
 * Memory bandwidth as bench:engine measures it: one-thread copy of a large Float64Array, read +
 * write bytes over the fastest of 9 copies.
 */
function copyBandwidth(bytes: number): number {
  const n = bytes / 8;
  const src = new Float64Array(n);
  const dst = new Float64Array(n);
  for (let i = 0; i < n; i += 512) src[i] = i;
  dst.set(src);
  let best = Number.POSITIVE_INFINITY;
  for (let r = 0; r < 9; r++) {
    const t = performance.now();
    dst.set(src);
    best = Math.min(best, (performance.now() - t) / 1000);
  }
  return (2 * bytes) / best;
}

// ---------------------------------------------------------------- children

async function frontierChild(spec: RunSpec): Promise<RunResult> {
  const { openRuntime } = await import("../workers/runtimes");
  const { DecoderSession, argmax, shapeFromFiles } = await import("../workers/eval/decoder-session");
  const handle = await openRuntime("cpu");
  // the worker's own session options, with the thread count under test
  const session = await handle.ort.InferenceSession.create(spec.file, {
    ...handle.sessionOptions(),
    intraOpNumThreads: spec.threads,
    ...(spec.profilePrefix ? { enableProfiling: true, profileFilePrefix: spec.profilePrefix } : {}),
  });
  const shape = shapeFromFiles(spec.file);
  if (!shape) throw new Error(`no decoder shape for ${spec.file}`);
  if (spec.prealloc) return preallocatedDecode(handle, session, shape, spec);
  const dec = new DecoderSession(handle, session, shape, spec.roundTrip ? { hostCache: false } : {});
  let t = performance.now();
  let tok = argmax(await dec.prefill(spec.prompt));
  const prefillMs = performance.now() - t;
  const tokens = [tok];
  const decodeMs: number[] = [];
  for (let i = 0; i < spec.decode; i++) {
    t = performance.now();
    tok = argmax(await dec.step(tok));
    decodeMs.push(performance.now() - t);
    tokens.push(tok);
  }
  let profile: Record<string, number> | undefined;
  if (spec.profilePrefix) {
    session.endProfiling();
    profile = decodeProfile(spec.profilePrefix);
  }
  await dec.release();
  return { prefillMs, decodeMs, tokens, profile };
}

type Handle = Awaited<ReturnType<typeof import("../workers/runtimes").openRuntime>>;
type Session = Awaited<ReturnType<Handle["ort"]["InferenceSession"]["create"]>>;

async function preallocatedDecode(handle: Handle, session: Session, shape: DecoderShape, spec: RunSpec): Promise<RunResult> {
  const { argmax } = await import("../workers/eval/decoder-session");
  const { layerKvHeads } = await import("../workers/eval/types");
  const { Tensor } = handle.ort;
  const maxLen = spec.prompt.length + spec.decode + 1;
  const L = shape.numLayers;
  const D = shape.headDim;
  const V = shape.vocabSize;
  const heads = Array.from({ length: 2 * L }, (_, i) => layerKvHeads(shape, i >> 1));
  const bufs = [0, 1].map(() => heads.map((h) => new Float32Array(h * maxLen * D)));
  const logitsBuf = new Float32Array(spec.prompt.length * V);
  let cur = 0;
  let past = heads.map((h) => new Tensor("float32", new Float32Array(0), [1, h, 0, D]));
  let pastLen = 0;
  const run = async (ids: number[]): Promise<Float32Array> => {
    const T = ids.length;
    const total = pastLen + T;
    const feeds: Record<string, InstanceType<typeof Tensor>> = {
      input_ids: new Tensor("int64", BigInt64Array.from(ids, BigInt), [1, T]),
      attention_mask: new Tensor("int64", new BigInt64Array(total).fill(1n), [1, total]),
    };
    if (shape.hasPositionIds)
      feeds.position_ids = new Tensor(
        "int64",
        BigInt64Array.from(ids, (_, i) => BigInt(pastLen + i)),
        [1, T],
      );
    const logits = logitsBuf.subarray(0, T * V);
    const fetches: Record<string, InstanceType<typeof Tensor>> = { logits: new Tensor("float32", logits, [1, T, V]) };
    const present = heads.map((h, i) => new Tensor("float32", bufs[cur][i].subarray(0, h * total * D), [1, h, total, D]));
    for (let l = 0; l < L; l++) {
      feeds[`past_key_values.${l}.key`] = past[2 * l];
      feeds[`past_key_values.${l}.value`] = past[2 * l + 1];
      fetches[`present.${l}.key`] = present[2 * l];
      fetches[`present.${l}.value`] = present[2 * l + 1];
    }
    await session.run(feeds, fetches);
    past = present;
    pastLen = total;
    cur ^= 1;
    return logits.subarray((T - 1) * V, T * V);
  };
  let t = performance.now();
  let tok = argmax(await run(spec.prompt));
  const prefillMs = performance.now() - t;
  const tokens = [tok];
  const decodeMs: number[] = [];
  for (let i = 0; i < spec.decode; i++) {
    t = performance.now();
    tok = argmax(await run([tok]));
    decodeMs.push(performance.now() - t);
    tokens.push(tok);
  }
  await session.release();
  return { prefillMs, decodeMs, tokens };
}

/**
 * Sums onnxruntime's per-node kernel times by op type over every model run after the first (the
 * prefill), from the newest trace written with `prefix`.
 */
function decodeProfile(prefix: string): Record<string, number> {
  const dir = path.dirname(prefix);
  const base = path.basename(prefix);
  const file = readdirSync(dir)
    .filter((f) => f.startsWith(base) && f.endsWith(".json"))
    .map((f) => path.join(dir, f))
    .sort((a, b) => statSync(b).mtimeMs - statSync(a).mtimeMs)[0];
  if (!file) throw new Error(`no profile written with prefix ${prefix}`);
  const events = JSON.parse(readFileSync(file, "utf8")) as { cat: string; name: string; ts: number; dur: number; args?: { op_name?: string } }[];
  const runs = events.filter((e) => e.cat === "Session" && e.name === "model_run").sort((a, b) => a.ts - b.ts);
  const from = runs[1]?.ts ?? Number.POSITIVE_INFINITY;
  const out: Record<string, number> = { "(model_run total)": 0 };
  for (const r of runs.slice(1)) out["(model_run total)"] += r.dur;
  for (const e of events) {
    if (e.cat !== "Node" || e.ts < from || !e.name.endsWith("_kernel_time")) continue;
    const op = e.args?.op_name ?? "?";
    out[op] = (out[op] ?? 0) + e.dur;
  }
  return out;
}

async function llamaChild(spec: RunSpec): Promise<RunResult> {
  const { getLlama, LlamaLogLevel } = await import("node-llama-cpp");
  const llama = await getLlama({ gpu: false, build: "never", logLevel: LlamaLogLevel.error });
  const model = await llama.loadModel({ modelPath: spec.file, gpuLayers: 0 });
  const context = await model.createContext({
    contextSize: spec.prompt.length + spec.decode + 8,
    batchSize: spec.prompt.length,
    threads: { ideal: spec.threads, min: spec.threads },
  });
  const seq = context.getSequence();
  type Token = Parameters<typeof seq.evaluate>[0][number];
  const tokens: number[] = [];
  const decodeMs: number[] = [];
  let prefillMs = 0;
  let t = performance.now();
  // greedy (temperature 0 is the default); the first token yielded ends the prefill
  for await (const tok of seq.evaluate(spec.prompt as Token[])) {
    const now = performance.now();
    if (tokens.length === 0) prefillMs = now - t;
    else decodeMs.push(now - t);
    tokens.push(tok);
    if (tokens.length > spec.decode) break;
    t = performance.now();
  }
  await context.dispose();
  await model.dispose();
  await llama.dispose();
  return { prefillMs, decodeMs, tokens };
}

// ---------------------------------------------------------------- models

interface Prepared {
  name: string;
  vocab: number;
  kvBytesPerToken: number;
  tied: boolean;
  onnx: { fp32: string; w4a16: string; w4a8: string };
  gguf: { f32: string; q4_0: string };
}

async function prepare(name: string, shapesDir: string, outDir: string): Promise<Prepared> {
  const { ensureShapeModel, shapeModelConfig } = await import("../workers/onnx/shapes");
  const { shapeCacheKey } = await import("../workers/onnx/shape-cache");
  const { exportGguf } = await import("../workers/export/gguf");
  const full = name.startsWith("shape-") ? name : `shape-${name}`;
  const config = shapeModelConfig(full);
  // the worker's content-addressed cache layout, so a model it generated is reused
  const fp32 = await ensureShapeModel(full, path.join(shapesDir, shapeCacheKey(full)));
  const dir = path.join(outDir, full);
  mkdirSync(dir, { recursive: true });
  const w4a16 = path.join(dir, "w4a16", "model.onnx");
  const w4a8 = path.join(dir, "w4a8", "model.onnx");
  if (!existsSync(w4a16) || !existsSync(w4a8)) {
    const t = performance.now();
    await quantizeShape(fp32, w4a16, w4a8);
    console.error(`${full}: 4-bit models written in ${((performance.now() - t) / 1000).toFixed(0)} s`);
  }
  const f32 = path.join(dir, "model-f32.gguf");
  const q4 = path.join(dir, "model-q4_0.gguf");
  if (!existsSync(f32)) exportGguf(fp32, f32, "f32", { name: full });
  if (!existsSync(q4)) exportGguf(w4a16, q4, "q4_0", { name: full });
  const D = config.hidden_size / config.num_heads;
  return {
    name: full,
    vocab: config.vocab_size,
    kvBytesPerToken: 2 * config.num_layers * config.num_kv_heads * D,
    tied: config.tie_embeddings,
    onnx: { fp32, w4a16, w4a8 },
    gguf: { f32, q4_0: q4 },
  };
}

/** RTN 4-bit symmetric group 32 of every linear, the tied head included; one file per accuracy level. */
async function quantizeShape(src: string, w4a16: string, w4a8: string): Promise<void> {
  const { loadTargets } = await import("../workers/methods/quantization/driver");
  const { emitQuantizedLinear, readRowWeight } = await import("../workers/methods/quantization/emit");
  const { quantizeRtn } = await import("../workers/methods/quantization/quant-math");
  const { writeModel, getAttribute } = await import("../workers/onnx/model-io");
  const { copyFileSync } = await import("node:fs");
  const { model, targets } = loadTargets(src, { quantizeHead: true });
  for (const t of targets) {
    const q = quantizeRtn(readRowWeight(model, t), t.n, t.k, { bits: 4, groupSize: 32, symmetric: true });
    emitQuantizedLinear(model, t, q, "matmulnbits", { accuracyLevel: 0 });
  }
  for (const [file, level] of [
    [w4a16, 0],
    [w4a8, 4],
  ] as const) {
    for (const node of model.graph?.node ?? []) {
      const a = node.opType === "MatMulNBits" ? getAttribute(node, "accuracy_level") : undefined;
      if (a) a.i = level;
    }
    mkdirSync(path.dirname(file), { recursive: true });
    writeModel(model, file);
    for (const f of ["config.json", "tokenizer.json"]) copyFileSync(path.join(path.dirname(src), f), path.join(path.dirname(file), f));
  }
}

/**
 * Weight bytes a decode step reads: every initializer, except the embedding table when only one
 * row of it is gathered (untied, or tied with the head quantized into its own copy).
 */
function onnxStepBytes(file: string, tied: boolean): number {
  const s = modelStats(file);
  const embed = s.tensors.find((t) => t.name === "embed_tokens.weight")?.bytes ?? 0;
  const embedIsHead = tied && !s.tensors.some((t) => t.name.includes("tied_head"));
  return s.weightsBytes - (embedIsHead ? 0 : embed);
}

async function ggufStepBytes(file: string): Promise<number> {
  const { readGgufHeader, tensorBytes } = await import("../workers/export/gguf");
  const buf = new Uint8Array(16 * 2 ** 20);
  const fd = openSync(file, "r");
  const n = readSync(fd, buf, 0, buf.length, 0);
  closeSync(fd);
  const h = readGgufHeader(buf.subarray(0, n));
  const hasOutput = h.tensors.some((t) => t.name === "output.weight");
  return h.tensors.filter((t) => !(hasOutput && t.name === "token_embd.weight")).reduce((sum, t) => sum + tensorBytes(t.type, t.ne), 0);
}

// ---------------------------------------------------------------- main

interface Config {
  model: Prepared;
  weights: "fp32" | "q4";
  threads: number;
  engines: { label: string; engine: RunSpec["engine"]; file: string; stepBytes: number; kvBytesPerElem: number; prealloc?: boolean; roundTrip?: boolean }[];
}

function runChild(spec: RunSpec, pin: boolean): RunResult {
  const cmd = pin ? "taskset" : process.execPath;
  const args = [...(pin ? ["-c", "0", process.execPath] : []), "--import", "tsx", self, "--child", JSON.stringify(spec)];
  const res = spawnSync(cmd, args, { encoding: "utf8", maxBuffer: 64 * 2 ** 20 });
  const line = res.stdout.split("\n").find((l) => l.startsWith("RESULT "));
  if (res.status !== 0 || !line) throw new Error(`${spec.engine} on ${path.basename(spec.file)} failed (exit ${res.status}):\n${res.stderr.slice(-2000)}`);
  return JSON.parse(line.slice(7)) as RunResult;
}

async function main(): Promise<void> {
  const models = arg("models", "125m").split(",");
  const threadList = arg("threads", "1,2").split(",").map(Number);
  const weightList = arg("weights", "fp32,q4").split(",") as ("fp32" | "q4")[];
  const rounds = Number(arg("rounds", "3"));
  const promptLen = Number(arg("prompt", "128"));
  const decode = Number(arg("decode", "64"));
  const shapesDir = path.resolve(arg("shapes", path.join("data", "shapes")));
  const outDir = path.resolve(arg("out", path.join("data", "peers")));
  const canPin = spawnSync("taskset", ["-c", "0", "true"]).status === 0;
  const version = (pkg: string) => (JSON.parse(readFileSync(path.join("node_modules", pkg, "package.json"), "utf8")) as { version: string }).version;

  const configs: Config[] = [];
  for (const m of models) {
    const p = await prepare(m, shapesDir, outDir);
    const fb = { fp32: onnxStepBytes(p.onnx.fp32, p.tied), w4: onnxStepBytes(p.onnx.w4a16, p.tied) };
    const gb = { f32: await ggufStepBytes(p.gguf.f32), q4: await ggufStepBytes(p.gguf.q4_0) };
    for (const weights of weightList) {
      for (const threads of threadList) {
        configs.push({
          model: p,
          weights,
          threads,
          engines:
            weights === "fp32"
              ? [
                  { label: "Frontier fp32", engine: "frontier", file: p.onnx.fp32, stepBytes: fb.fp32, kvBytesPerElem: 4 },
                  { label: "llama.cpp F32", engine: "llama.cpp", file: p.gguf.f32, stepBytes: gb.f32, kvBytesPerElem: 2 },
                ]
              : [
                  { label: "Frontier W4A16 (accuracy_level 0)", engine: "frontier", file: p.onnx.w4a16, stepBytes: fb.w4, kvBytesPerElem: 4 },
                  { label: "Frontier W4A8 (accuracy_level 4)", engine: "frontier", file: p.onnx.w4a8, stepBytes: fb.w4, kvBytesPerElem: 4 },
                  { label: "llama.cpp Q4_0", engine: "llama.cpp", file: p.gguf.q4_0, stepBytes: gb.q4, kvBytesPerElem: 2 },
                ],
        });
      }
    }
  }

  if (process.argv.includes("--profile")) {
    // Where a Frontier decode step's time goes: onnxruntime's kernel times by op type.
    const tmp = mkdtempSync(path.join(os.tmpdir(), "frontier-peers-profile-"));
    for (const c of configs) {
      const rng = seededRng(1000);
      const prompt = Array.from({ length: promptLen }, () => 1 + Math.floor(rng() * (c.model.vocab - 1)));
      for (const e of c.engines.filter((x) => x.engine === "frontier")) {
        const res = runChild(
          { engine: e.engine, file: e.file, threads: c.threads, prompt, decode, profilePrefix: path.join(tmp, `p${Date.now()}`) },
          c.threads === 1 && canPin,
        );
        const prof = res.profile ?? {};
        const total = prof["(model_run total)"] / decode / 1000;
        const ops = Object.entries(prof)
          .filter(([k]) => k !== "(model_run total)")
          .sort((a, b) => b[1] - a[1]);
        const kernels = ops.reduce((sum, [, v]) => sum + v, 0) / decode / 1000;
        console.log(
          `\n${c.model.name}, ${c.threads} thread(s), ${e.label}: decode step ${median(res.decodeMs).toFixed(2)} ms wall (median), model_run ${total.toFixed(2)} ms, kernels ${kernels.toFixed(2)} ms (mean over ${decode} steps)\n\n| op | ms/step | share of kernel time |\n| --- | --- | --- |`,
        );
        for (const [op, us] of ops.slice(0, 10))
          console.log(`| ${op} | ${(us / decode / 1000).toFixed(3)} | ${((us / decode / 1000 / kernels) * 100).toFixed(1)}% |`);
      }
    }
    return;
  }

  if (process.argv.includes("--breakdown")) {
    await breakdown(configs, canPin, Number(arg("rounds", "5")));
    return;
  }

  if (arg("lever", "") === "prealloc") {
    for (const c of configs) {
      c.engines = c.engines.flatMap((e) => (e.engine === "frontier" ? [e, { ...e, label: `${e.label} + preallocated outputs`, prealloc: true }] : [e]));
    }
  }
  if (arg("lever", "") === "hostcache") {
    // the engine before host cache mode, interleaved with it
    for (const c of configs) {
      c.engines = c.engines.flatMap((e) => (e.engine === "frontier" ? [{ ...e, label: `${e.label}, cache round-trip`, roundTrip: true }, e] : [e]));
    }
  }

  const loadBefore = os.loadavg();
  const started = performance.now();
  const samples = new Map<string, RunResult[]>();
  const bws: number[] = [];
  for (let r = 0; r < rounds; r++) {
    for (const c of configs) {
      const rng = seededRng(1000 + r);
      const prompt = Array.from({ length: promptLen }, () => 1 + Math.floor(rng() * (c.model.vocab - 1)));
      const order = r % 2 === 0 ? c.engines : [...c.engines].reverse();
      bws.push(copyBandwidth(256 * 2 ** 20));
      for (const e of order) {
        const key = `${c.model.name}|${c.weights}|${c.threads}|${e.label}`;
        const res = runChild(
          { engine: e.engine, file: e.file, threads: c.threads, prompt, decode, prealloc: e.prealloc, roundTrip: e.roundTrip },
          c.threads === 1 && canPin,
        );
        samples.set(key, [...(samples.get(key) ?? []), res]);
        console.error(
          `round ${r + 1}/${rounds} ${c.model.name} ${c.threads}t ${e.label}: prefill ${res.prefillMs.toFixed(0)} ms, decode median ${median(res.decodeMs).toFixed(2)} ms, load ${os.loadavg()[0].toFixed(1)}`,
        );
      }
    }
  }
  const loadAfter = os.loadavg();
  const bw = median(bws);

  const rows: string[] = [];
  const ratios: string[] = [];
  for (const c of configs) {
    const llama = c.engines.find((e) => e.engine === "llama.cpp");
    const llamaRuns = samples.get(`${c.model.name}|${c.weights}|${c.threads}|${llama?.label}`) ?? [];
    for (const e of c.engines) {
      const runs = samples.get(`${c.model.name}|${c.weights}|${c.threads}|${e.label}`) ?? [];
      const dec = median(runs.flatMap((x) => x.decodeMs));
      const iv = clusterBootstrapMedian(
        runs.map((x) => x.decodeMs),
        7,
      );
      const pre = median(runs.map((x) => x.prefillMs));
      const kv = c.model.kvBytesPerToken * (promptLen + decode / 2) * e.kvBytesPerElem;
      const boundMs = ((e.stepBytes + kv) / bw) * 1000;
      rows.push(
        `| ${c.model.name} | ${c.threads}${c.threads === 1 && canPin ? ", pinned" : ""} | ${e.label} | ${(e.stepBytes / 1e6).toFixed(0)} MB | ${pre.toFixed(0)} | ${dec.toFixed(2)} | ${iv ? `${iv.lo.toFixed(2)}-${iv.hi.toFixed(2)}` : "n/a"} | ${(1000 / dec).toFixed(1)} | ${((boundMs / dec) * 100).toFixed(0)}% |`,
      );
      if (e.engine === "frontier" && llamaRuns.length) {
        const ratio = median(llamaRuns.flatMap((x) => x.decodeMs)) / dec;
        const riv = pairedRatioBootstrap(
          llamaRuns.map((x) => x.decodeMs),
          runs.map((x) => x.decodeMs),
          11,
        );
        const preRatio = median(llamaRuns.map((x) => x.prefillMs)) / pre;
        const same = runs.map((x, i) => {
          const o = llamaRuns[i]?.tokens ?? [];
          let k = 0;
          while (k < x.tokens.length && x.tokens[k] === o[k]) k++;
          return k;
        });
        ratios.push(
          `| ${c.model.name} | ${c.threads} | ${e.label} vs ${llama?.label} | ${ratio.toFixed(2)} | ${riv ? `${riv.lo.toFixed(2)}-${riv.hi.toFixed(2)}` : "n/a"} | ${preRatio.toFixed(2)} | ${median(same)} of ${decode + 1} |`,
        );
      }
    }
  }
  const cpu = os.cpus();
  console.log(`Command: \`npm run bench:peers -- ${process.argv.slice(2).join(" ")}\` (prompt ${promptLen} seeded random ids, ${decode} greedy decode steps, ${rounds} rounds; engines interleaved, order alternating by round, each run in its own process; total ${((performance.now() - started) / 60000).toFixed(1)} min)
Machine: ${cpu[0]?.model.trim()} x${cpu.length} cores, ${(os.totalmem() / 2 ** 30).toFixed(0)} GiB, Node ${process.version}, onnxruntime-node ${version("onnxruntime-node")}, node-llama-cpp ${version("node-llama-cpp")} (prebuilt CPU binary). Date: ${new Date().toISOString().slice(0, 16).replace("T", " ")} UTC. Load average (1/5/15 min) ${loadBefore.map((x) => x.toFixed(1)).join("/")} before, ${loadAfter.map((x) => x.toFixed(1)).join("/")} after.
Bandwidth: one-thread copy of a 256 MiB Float64Array (median over rounds of the fastest of 9): ${(bw / 1e9).toFixed(1)} GB/s. Bound = (weight bytes read per step + KV cache at mid-decode, fp32 for Frontier, f16 for llama.cpp) / bandwidth; "bound / measured" is that engine's fraction of it.

| model | threads | engine | bytes/step (weights) | prefill ms (median) | decode ms/token (median) | 95% interval | tokens/s | bound / measured |
| --- | --- | --- | --- | --- | --- | --- | --- | --- |
${rows.join("\n")}

| model | threads | pair | Frontier decode speed / llama.cpp | 95% interval (paired rounds) | prefill speed ratio | greedy tokens equal (median) |
| --- | --- | --- | --- | --- | --- | --- |
${ratios.join("\n")}`);
}

/** A child process's protocol: one RESULT line of JSON on stdout, exit 0; the error and exit 1 otherwise. */
function answerAsChild<T>(work: Promise<T>): void {
  work.then(
    (r) => {
      process.stdout.write(`RESULT ${JSON.stringify(r)}\n`);
      process.exit(0);
    },
    (e) => {
      console.error(e);
      process.exit(1);
    },
  );
}

if (process.argv[2] === "--breakdown-child") {
  answerAsChild(breakdownChild(JSON.parse(process.argv[3]) as BreakdownSpec));
} else if (process.argv[2] === "--child") {
  const spec = JSON.parse(process.argv[3]) as RunSpec;
  answerAsChild(spec.engine === "frontier" ? frontierChild(spec) : llamaChild(spec));
} else {
  main().catch((e) => {
    console.error(e);
    process.exit(1);
  });
}

// ---------------------------------------------------------------- breakdown

/**
 * Where a decode step's time goes outside onnxruntime's kernels, measured as differences of
 * session.run wall times on one session, the variants interleaved within each child:
 * - "all outputs" (what DecoderSession does) vs "logits only" (the present key/values are still
 *   computed, but not returned): the cost of handing the whole cache back to JS every step, which
 *   the node binding copies into fresh arrays (preallocated outputs do not avoid it);
 * - the same graph with each RMSNorm's square written as Pow(x, 2) (as transformers' exports write
 *   it), which onnxruntime's optimizer fuses into one SimplifiedLayerNormalization per norm, against
 *   the builder's Mul(x, x), which it leaves as six nodes.
 * One decode step (1 token) after a synthetic cache of each context length.
 */
interface BreakdownSpec {
  variants: { label: string; file: string }[];
  threads: number;
  contexts: number[];
  reps: number;
}

type BreakdownResult = Record<string, number[]>;

async function breakdownChild(spec: BreakdownSpec): Promise<BreakdownResult> {
  const { openRuntime } = await import("../workers/runtimes");
  const { shapeFromFiles } = await import("../workers/eval/decoder-session");
  const { layerKvHeads } = await import("../workers/eval/types");
  const handle = await openRuntime("cpu");
  const { Tensor } = handle.ort;
  const sessions = [];
  for (const v of spec.variants) {
    const session = await handle.ort.InferenceSession.create(v.file, { ...handle.sessionOptions(), intraOpNumThreads: spec.threads });
    const shape = shapeFromFiles(v.file);
    if (!shape) throw new Error(`no decoder shape for ${v.file}`);
    sessions.push({ label: v.label, session, shape });
  }
  const out: BreakdownResult = {};
  const rng = seededRng(7);
  for (const P of spec.contexts) {
    const feedsOf = sessions.map(({ shape }) => {
      const feeds: Record<string, InstanceType<typeof Tensor>> = {
        input_ids: new Tensor("int64", BigInt64Array.of(5n), [1, 1]),
        attention_mask: new Tensor("int64", new BigInt64Array(P + 1).fill(1n), [1, P + 1]),
      };
      if (shape.hasPositionIds) feeds.position_ids = new Tensor("int64", BigInt64Array.of(BigInt(P)), [1, 1]);
      for (let l = 0; l < shape.numLayers; l++) {
        const h = layerKvHeads(shape, l);
        for (const kv of ["key", "value"]) {
          const data = Float32Array.from({ length: h * P * shape.headDim }, () => rng() - 0.5);
          feeds[`past_key_values.${l}.${kv}`] = new Tensor("float32", data, [1, h, P, shape.headDim]);
        }
      }
      return feeds;
    });
    for (let r = 0; r < spec.reps + 2; r++) {
      for (let i = 0; i < sessions.length; i++) {
        for (const mode of ["all outputs", "logits only"]) {
          const t = performance.now();
          const session = sessions[i].session;
          await (mode === "logits only" ? session.run(feedsOf[i], ["logits"]) : session.run(feedsOf[i]));
          const ms = performance.now() - t;
          // the first two repetitions warm the session's arena for this context length
          if (r >= 2) (out[`${P}|${sessions[i].label}|${mode}`] ??= []).push(ms);
        }
      }
    }
  }
  for (const s of sessions) await s.session.release();
  return out;
}

/** The builder's graph with each RMSNorm square written as Pow(x, 2): the same numbers, a fusable pattern. */
async function powNormVariant(src: string, dst: string): Promise<number> {
  const { readModel, writeModel, makeTensor } = await import("../workers/onnx/model-io");
  const { copyFileSync } = await import("node:fs");
  const model = readModel(src);
  const g = model.graph ?? {};
  let n = 0;
  for (const node of g.node ?? []) {
    const inputs = node.input ?? [];
    if (node.opType === "Mul" && inputs.length === 2 && inputs[0] === inputs[1] && (node.name ?? "").endsWith("/sq")) {
      node.opType = "Pow";
      node.input = [inputs[0], "const.pow2"];
      n++;
    }
  }
  (g.initializer ??= []).push(makeTensor("const.pow2", [], Float32Array.of(2)));
  mkdirSync(path.dirname(dst), { recursive: true });
  writeModel(model, dst);
  for (const f of ["config.json", "tokenizer.json"]) copyFileSync(path.join(path.dirname(src), f), path.join(path.dirname(dst), f));
  return n;
}

async function breakdown(configs: Config[], canPin: boolean, rounds: number): Promise<void> {
  const contexts = arg("contexts", "128,512").split(",").map(Number);
  const reps = Number(arg("reps", "15"));
  const started = performance.now();
  const loadBefore = os.loadavg();
  const rows: string[] = [];
  const seen = new Set<string>();
  for (const c of configs) {
    for (const e of c.engines.filter((x) => x.engine === "frontier" && !x.label.includes("W4A16"))) {
      const key = `${e.file}|${c.threads}`;
      if (seen.has(key)) continue;
      seen.add(key);
      const pow = path.join(path.dirname(e.file), "..", `${path.basename(path.dirname(e.file))}-pownorm`, "model.onnx");
      const norms = existsSync(pow) ? -1 : await powNormVariant(e.file, pow);
      if (norms === 0) throw new Error(`${e.file}: no RMSNorm square found to rewrite`);
      const variants = [
        { label: "builder graph", file: e.file },
        { label: "RMSNorm as Pow (fused by onnxruntime)", file: pow },
      ];
      const all: BreakdownResult = {};
      for (let r = 0; r < rounds; r++) {
        const spec: BreakdownSpec = { variants: r % 2 ? [...variants].reverse() : variants, threads: c.threads, contexts, reps };
        const cmd = c.threads === 1 && canPin ? "taskset" : process.execPath;
        const args = [...(c.threads === 1 && canPin ? ["-c", "0", process.execPath] : []), "--import", "tsx", self, "--breakdown-child", JSON.stringify(spec)];
        const res = spawnSync(cmd, args, { encoding: "utf8", maxBuffer: 64 * 2 ** 20 });
        const line = res.stdout.split("\n").find((l) => l.startsWith("RESULT "));
        if (res.status !== 0 || !line) throw new Error(`breakdown of ${e.file} failed (exit ${res.status}):\n${res.stderr.slice(-2000)}`);
        const got = JSON.parse(line.slice(7)) as BreakdownResult;
        // one median per child and variant: rounds are the unit of resampling
        for (const [k, v] of Object.entries(got)) (all[k] ??= []).push(median(v));
        console.error(`breakdown round ${r + 1}/${rounds} ${c.model.name} ${c.threads}t ${e.label}, load ${os.loadavg()[0].toFixed(1)}`);
      }
      for (const P of contexts) {
        const m = (v: string, mode: string) => all[`${P}|${v}|${mode}`] ?? [];
        const base = median(m("builder graph", "all outputs"));
        const logits = median(m("builder graph", "logits only"));
        const fused = median(m("RMSNorm as Pow (fused by onnxruntime)", "all outputs"));
        const paired = (a: number[], b: number[]) => median(a.map((x, i) => x - b[i]));
        rows.push(
          `| ${c.model.name} | ${e.label} | ${c.threads}${c.threads === 1 && canPin ? ", pinned" : ""} | ${P} | ${base.toFixed(2)} | ${logits.toFixed(2)} | ${paired(m("builder graph", "all outputs"), m("builder graph", "logits only")).toFixed(2)} (${((1 - logits / base) * 100).toFixed(0)}%) | ${fused.toFixed(2)} | ${paired(m("builder graph", "all outputs"), m("RMSNorm as Pow (fused by onnxruntime)", "all outputs")).toFixed(2)} |`,
        );
      }
    }
  }
  const loadAfter = os.loadavg();
  console.log(`Command: \`npm run bench:peers -- ${process.argv.slice(2).join(" ")}\` (${rounds} child processes per engine, each timing ${reps} session.run calls per variant and mode after 2 warm-up calls, variants and modes interleaved; total ${((performance.now() - started) / 60000).toFixed(1)} min)
Load average (1/5/15 min) ${loadBefore.map((x) => x.toFixed(1)).join("/")} before, ${loadAfter.map((x) => x.toFixed(1)).join("/")} after. Medians over rounds of each round's median; differences are medians of per-round paired differences.

| model | engine | threads | context (cached tokens) | session.run, all outputs (ms) | logits only (ms) | returning the cache to JS (ms, share) | RMSNorm fused: all outputs (ms) | saved by the fused norm (ms) |
| --- | --- | --- | --- | --- | --- | --- | --- | --- |
${rows.join("\n")}`);
}
