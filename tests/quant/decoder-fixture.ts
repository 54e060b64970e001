import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { decoderWeightShapes, writeDecoder } from "../../workers/onnx/decoder-builder";
import { Rng } from "../../workers/data/rng";
import { writeModel, type ModelProto } from "../../workers/onnx/model-io";

/** A tiny GQA decoder (docs/decoder.md) with non-trivial norms and a few outlier channels, as trained LMs have. */
export const TINY = {
  vocab_size: 300,
  num_layers: 2,
  num_heads: 4,
  num_kv_heads: 2,
  hidden_size: 64,
  intermediate_size: 96,
  max_position: 128,
};

export function tinyWeights(seed = 5): Map<string, Float32Array> {
  const rng = new Rng(seed);
  const weights = new Map<string, Float32Array>();
  for (const [name, dims] of decoderWeightShapes({ ...TINY, rope_theta: 10000, rms_eps: 1e-5, tie_embeddings: false })) {
    const n = dims.reduce((p, d) => p * d, 1);
    const w = new Float32Array(n);
    if (name.endsWith("norm.weight")) {
      for (let i = 0; i < n; i++) w[i] = 0.5 + rng.next() * 1.5;
      // outlier channels: a few hidden dimensions carry much larger activations
      w[3] *= 8;
      w[17] *= 5;
    } else {
      const std = name.startsWith("embed") ? 1 : 1 / Math.sqrt(dims[0]);
      for (let i = 0; i < n; i++) w[i] = rng.normal() * std;
    }
    weights.set(name, w);
  }
  return weights;
}

export function tmpDir(prefix: string): string {
  return fs.mkdtempSync(path.join(os.tmpdir(), prefix));
}

/** Writes the tiny decoder (model.onnx, config.json, tokenizer.json) into a fresh directory. */
export function writeTinyDecoder(dir = tmpDir("frontier-quant-")) {
  return writeDecoder(dir, TINY, { weights: tinyWeights() });
}

/** The tiny decoder in a fresh directory: its model file, and `save` writing a variant beside it. */
export function tinyDecoderFiles(): { dir: string; base: string; save: (model: ModelProto, name: string, opts?: Parameters<typeof writeModel>[2]) => string } {
  const written = writeTinyDecoder();
  const dir = written.dir;
  const save = (model: ModelProto, name: string, opts?: Parameters<typeof writeModel>[2]) => {
    const file = path.join(dir, name);
    writeModel(model, file, opts);
    return file;
  };
  return { dir, base: path.join(dir, written.files.model), save };
}

export function tokenSequences(n: number, len: number, seed = 9): number[][] {
  const rng = new Rng(seed);
  return Array.from({ length: n }, () => Array.from({ length: len }, () => rng.int(256)));
}
