import crypto from "node:crypto";
import fs from "node:fs";
import { sha256File } from "../hash";
import path from "node:path";
import { decoderParamCount } from "./decoder-config";
import { ensureShapeModel, GENERATOR_VERSION, readShapeCard, resolveShapeName, SHAPE_MODELS, shapeModelConfig, type ShapeModelName } from "./shapes";

/**
 * Shape models as registered models: the server registers a row per shape model (no files: they do
 * not exist yet), and a worker generates the model on first use into a content-addressed cache
 * under its data dir, `<dataDir>/shapes/<key>/<name>/`, where the key hashes the generator version,
 * the decoder config and the seed. Two workers (or two jobs) on one data dir share a model only when
 * every input to the generator matches, and a new generator never reuses an old model.
 */

/** The shape models registered on start: the speed-and-memory models at realistic sizes. */
export const REGISTERED_SHAPE_MODELS: readonly ShapeModelName[] = ["shape-125m", "shape-1b"];

/** Card of a registered shape model: what a worker needs to generate it, and what the UI shows. */
export interface ShapeRegistrationCard {
  shapeOnly: true;
  shape: ShapeModelName;
  description: string;
  generator: number;
  seed: number;
  config: ReturnType<typeof shapeModelConfig>;
  params: number;
  /** float32 weights, the size of the generated model.onnx (+ .data) up to the graph's few kB. */
  weightsBytes: number;
  cacheKey: string;
  note: string;
  [k: string]: unknown;
}

export interface ShapeRegistration {
  id: ShapeModelName;
  name: string;
  kind: "decoder-lm";
  source: "shape";
  files: Record<string, string>;
  params: number;
  card: ShapeRegistrationCard;
}

/** 16 hex digits of sha256 over (generator version, config, seed). */
export function shapeCacheKey(name: string, seed = 0, generator = GENERATOR_VERSION): string {
  const config = shapeModelConfig(name);
  return crypto.createHash("sha256").update(JSON.stringify({ generator, config, seed })).digest("hex").slice(0, 16);
}

export const SHAPE_NOTE =
  "Random weights (seeded): speed and memory only. Runs on this model report latency and memory; no quality metric, and calibrated methods (GPTQ, AWQ, SmoothQuant) refuse it.";

/** The row the server registers for a shape model (files are named; the worker's cache holds them). */
export function shapeModelRegistration(name: string, seed = 0): ShapeRegistration {
  const shape = resolveShapeName(name);
  const config = shapeModelConfig(shape);
  const params = decoderParamCount(config);
  return {
    id: shape,
    name: shape,
    kind: "decoder-lm",
    source: "shape",
    files: { model: "model.onnx", tokenizer: "tokenizer.json", config: "config.json", card: "card.json" },
    params,
    card: {
      shapeOnly: true,
      shape,
      description: SHAPE_MODELS[shape].description,
      generator: GENERATOR_VERSION,
      seed,
      config,
      params,
      weightsBytes: params * 4,
      cacheKey: shapeCacheKey(shape, seed),
      note: SHAPE_NOTE,
    },
  };
}

export interface ShapeModelRef {
  id: string;
  sha256: string | null;
  card: Record<string, unknown> | null;
}

export interface MaterializedShape {
  dir: string;
  modelPath: string;
  generated: boolean;
  generateMs: number;
  sha256: string;
  bytes: number;
}

/**
 * The directory of a registered shape model in `cacheDir`, generating it first when absent. The
 * card must name a shape this worker knows with the same config and generator version (else the
 * worker's code differs from the server's and the run says so); a sha256 recorded at registration
 * is checked against the model file (hashed once per cache entry, kept beside it).
 */
export async function materializeShapeModel(ref: ShapeModelRef, cacheDir: string, log: (line: string) => void = () => {}): Promise<MaterializedShape> {
  const card = ref.card ?? {};
  const name = typeof card.shape === "string" ? card.shape : ref.id;
  let shape: ShapeModelName;
  try {
    shape = resolveShapeName(name);
  } catch (e) {
    throw new Error(`model ${ref.id}: ${(e as Error).message}`);
  }
  const seed = typeof card.seed === "number" ? card.seed : 0;
  const generator = typeof card.generator === "number" ? card.generator : GENERATOR_VERSION;
  if (generator !== GENERATOR_VERSION) {
    throw new Error(
      `model ${ref.id} was registered for shape generator v${generator}; this worker has v${GENERATOR_VERSION} (update the worker or re-register the model)`,
    );
  }
  const config = shapeModelConfig(shape);
  if (card.config !== undefined && JSON.stringify(card.config) !== JSON.stringify(config)) {
    throw new Error(`model ${ref.id}: the registered config differs from this worker's ${shape} config (the server and the worker run different code)`);
  }
  const keyDir = path.join(path.resolve(cacheDir), "shapes", shapeCacheKey(shape, seed));
  const dir = path.join(keyDir, shape);
  const modelPath = path.join(dir, "model.onnx");
  const cached = readShapeCard(dir);
  let generated = false;
  let generateMs = 0;
  if (!cached || !fs.existsSync(modelPath)) {
    const p = decoderParamCount(config);
    log(`generating ${shape} (first use on this worker: ${(p / 1e6).toFixed(1)}M random parameters, seed ${seed}) into ${keyDir}`);
    // Generation is synchronous: let the log line reach the worker before it starts.
    await new Promise((r) => setTimeout(r, 20));
    const t0 = performance.now();
    // ensureShapeModel writes a temporary directory and renames it into place: a concurrent job
    // either finds the finished model or writes its own copy and loses the rename.
    await ensureShapeModel(shape, keyDir, { seed });
    generateMs = performance.now() - t0;
    generated = true;
  }
  const card2 = readShapeCard(dir);
  if (!card2) throw new Error(`shape model cache ${dir} has no card.json after generation`);
  const sha256 = shaOf(modelPath);
  if (generated)
    log(`generated ${shape} in ${(generateMs / 1000).toFixed(1)} s: ${(card2.bytes / 1e6).toFixed(0)} MB, model.onnx sha256 ${sha256.slice(0, 12)}`);
  if (ref.sha256 && ref.sha256 !== sha256) {
    throw new Error(
      `model ${ref.id}: the generated model.onnx has sha256 ${sha256}, the registration recorded ${ref.sha256} (another generator or platform made that one)`,
    );
  }
  return { dir, modelPath, generated, generateMs, sha256, bytes: card2.bytes };
}

/** sha256 of a cached model file, computed once and kept in `<file>.sha256` (keyed by size and mtime). */
function shaOf(file: string): string {
  const st = fs.statSync(file);
  const side = `${file}.sha256`;
  const stamp = `${st.size}:${Math.floor(st.mtimeMs)}`;
  try {
    const [s, hash] = fs.readFileSync(side, "utf8").trim().split(" ");
    if (s === stamp && /^[0-9a-f]{64}$/.test(hash)) return hash;
  } catch {}
  const hash = sha256File(file);
  // Written to a temporary name and renamed: a concurrent reader sees the old file or the whole new one.
  const tmp = `${side}.${process.pid}`;
  fs.writeFileSync(tmp, `${stamp} ${hash}\n`);
  fs.renameSync(tmp, side);
  return hash;
}

/**
 * A registered shape model's ModelRef pointed at this worker's cache (generated there on first
 * use), for the executor's model resolution. Any other model, and a shape model whose files already
 * name a directory (a benchmark script's own cache), is returned as it is.
 */
export async function withShapeFiles<M extends ShapeModelRef & { source: string; files: Record<string, string> }>(
  model: M,
  dataDir: string,
  log: (line: string) => void,
): Promise<{ model: M; generated: MaterializedShape | null }> {
  if (model.source !== "shape" || model.files.dir) return { model, generated: null };
  const m = await materializeShapeModel(model, dataDir, log);
  const files: Record<string, string> = {
    ...model.files,
    dir: m.dir,
    model: "model.onnx",
    config: "config.json",
    tokenizer: "tokenizer.json",
    card: "card.json",
  };
  if (fs.existsSync(`${m.modelPath}.data`)) files.data = "model.onnx.data";
  return { model: { ...model, files }, generated: m.generated ? m : null };
}
