import { existsSync, mkdirSync, readFileSync, renameSync, rmSync, writeFileSync } from "node:fs";
import path from "node:path";
import { writeDecoder } from "./decoder-builder";
import { decoderParamCount, parseDecoderConfig, type DecoderConfig, type DecoderConfigInput } from "./decoder-config";

/**
 * Shape-only models: the decoder architecture at realistic sizes with seeded random weights, for
 * speed and memory benchmarks. Their text is meaningless, so runs on them report no quality
 * metric (card.json says shapeOnly: true). Generated on demand into a cache, never committed.
 */

export interface ShapeModelSpec {
  description: string;
  config: DecoderConfigInput;
}

export const SHAPE_MODELS = {
  "shape-tiny": {
    description: "tiny decoder for smoke tests of the shape-model path",
    config: { vocab_size: 512, num_layers: 2, num_heads: 4, num_kv_heads: 2, hidden_size: 64, intermediate_size: 128, max_position: 256 },
  },
  "shape-125m": {
    description: "GPT-2-small-like dims (hidden 768, 12 layers, 12 heads, vocab 50257, tied embeddings), ~124M params",
    config: {
      vocab_size: 50257,
      num_layers: 12,
      num_heads: 12,
      num_kv_heads: 12,
      hidden_size: 768,
      // SwiGLU's three matrices at 2048 match GPT-2's two at 3072 in parameters
      intermediate_size: 2048,
      max_position: 2048,
      tie_embeddings: true,
    },
  },
  "shape-1b": {
    description: "TinyLlama-1.1B dims (hidden 2048, 22 layers, 32 heads, 4 kv heads, intermediate 5632, vocab 32000)",
    config: {
      vocab_size: 32000,
      num_layers: 22,
      num_heads: 32,
      num_kv_heads: 4,
      hidden_size: 2048,
      intermediate_size: 5632,
      max_position: 2048,
    },
  },
} satisfies Record<string, ShapeModelSpec>;

export type ShapeModelName = keyof typeof SHAPE_MODELS;

/**
 * Bump when generation changes, so cached models from an older generator are rebuilt. v2: the
 * decoder graph also outputs each call's own keys and values (new_key_values.*).
 */
export const GENERATOR_VERSION = 2;

/** Accepts "shape-1b" or the short "1b". */
export function resolveShapeName(name: string): ShapeModelName {
  const full = name.startsWith("shape-") ? name : `shape-${name}`;
  if (!(full in SHAPE_MODELS)) {
    throw new Error(`unknown shape model "${name}"; known: ${Object.keys(SHAPE_MODELS).join(", ")}`);
  }
  return full as ShapeModelName;
}

export function shapeModelConfig(name: string): DecoderConfig {
  return parseDecoderConfig(SHAPE_MODELS[resolveShapeName(name)].config);
}

export interface ShapeModelCard {
  name: string;
  kind: "decoder-lm";
  shapeOnly: true;
  description: string;
  params: number;
  bytes: number;
  seed: number;
  generator: number;
  config: DecoderConfig;
  files: Record<string, string>;
  note: string;
}

export interface EnsureShapeOptions {
  seed?: number;
  /** Passed to writeDecoder; default: external data once weights reach 1 GiB. */
  externalDataThreshold?: number;
}

/**
 * Returns the path of `<cacheDir>/<name>/model.onnx`, generating the model first unless a
 * complete one from this generator is there. Generation writes to a temporary directory that is
 * renamed into place, so concurrent callers and interrupted runs never expose a partial model.
 */
export async function ensureShapeModel(name: string, cacheDir: string, opts: EnsureShapeOptions = {}): Promise<string> {
  const full = resolveShapeName(name);
  const config = shapeModelConfig(full);
  const seed = opts.seed ?? 0;
  const dir = path.join(path.resolve(cacheDir), full);
  const modelFile = path.join(dir, "model.onnx");
  if (isCurrent(dir, config, seed)) return modelFile;

  mkdirSync(cacheDir, { recursive: true });
  const tmp = path.join(path.resolve(cacheDir), `.${full}.tmp-${process.pid}-${Date.now()}`);
  try {
    const written = writeDecoder(tmp, config, {
      seed,
      externalDataThreshold: opts.externalDataThreshold,
      metadata: { "frontier.shape_only": "true" },
    });
    const card: ShapeModelCard = {
      name: full,
      kind: "decoder-lm",
      shapeOnly: true,
      description: SHAPE_MODELS[full].description,
      params: decoderParamCount(config),
      bytes: written.bytes,
      seed,
      generator: GENERATOR_VERSION,
      config,
      files: { ...written.files, card: "card.json" },
      note: "Random weights (N(0, 0.02), norms 1) for speed and memory benchmarks: generated text is meaningless and runs report no quality metric.",
    };
    // card.json last: its presence marks a complete model
    writeFileSync(path.join(tmp, "card.json"), JSON.stringify(card, null, 2) + "\n");
    if (existsSync(dir)) {
      if (isCurrent(dir, config, seed)) return modelFile; // another process finished first
      rmSync(dir, { recursive: true, force: true });
    }
    try {
      renameSync(tmp, dir);
    } catch (e) {
      if (!isCurrent(dir, config, seed)) throw e;
    }
    return modelFile;
  } finally {
    rmSync(tmp, { recursive: true, force: true });
  }
}

export function readShapeCard(dir: string): ShapeModelCard | null {
  try {
    return JSON.parse(readFileSync(path.join(dir, "card.json"), "utf8")) as ShapeModelCard;
  } catch {
    return null;
  }
}

function isCurrent(dir: string, config: DecoderConfig, seed: number): boolean {
  const card = readShapeCard(dir);
  return (
    card !== null &&
    card.generator === GENERATOR_VERSION &&
    card.seed === seed &&
    JSON.stringify(card.config) === JSON.stringify(config) &&
    existsSync(path.join(dir, "model.onnx"))
  );
}
