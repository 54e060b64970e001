/**
 * Tiny decoders for the engine tests, written with the project's own builder into a temp dir.
 *
 * The "bigram" model has zero attention and MLP output weights, so the residual stream is the
 * token's embedding and the logits depend on the current token only. With one-hot embeddings and
 * lm_head chosen as below, its logits are exactly a designed table L[k][v] = log P(v | k), which
 * makes perplexity and greedy output computable by hand:
 *   P(v | k) = 1/2 for v = next(k), and 1/(2 (V - 1)) for every other v,
 * where next(k) = k + 1, except after 'E' which is followed by a newline (greedy text stops there).
 * The builder's default tokenizer for V >= 257 is byte-level: id = byte, <|endoftext|> = 256.
 */
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { writeDecoder } from "@/workers/onnx/decoder-builder";
import { addNode, attr, makeNode, makeTensor, readModel, writeModel } from "@/workers/onnx/model-io";
import { decoderWeightShapes, parseDecoderConfig, type DecoderConfigInput } from "@/workers/onnx/decoder-config";
import type { JobSpec, ModelRef } from "@/workers/types";

export function tempDir(prefix: string): string {
  return fs.mkdtempSync(path.join(os.tmpdir(), `frontier-${prefix}-`));
}

export const BIGRAM_VOCAB = 264;
export const EOS = 256;
export const bigramNext = (k: number) => (k === 0x45 ? 0x0a : (k + 1) % BIGRAM_VOCAB);
export const RMS_EPS = 1e-5;
export const P_NEXT = 0.5;
export const P_OTHER = 0.5 / (BIGRAM_VOCAB - 1);

export const bigramConfig: DecoderConfigInput = {
  vocab_size: BIGRAM_VOCAB,
  num_layers: 2,
  num_heads: 4,
  num_kv_heads: 2,
  hidden_size: BIGRAM_VOCAB, // one-hot embeddings: hidden = vocab
  intermediate_size: 16,
  max_position: 64,
  rms_eps: RMS_EPS,
};

export function writeBigramModel(dir: string): string {
  const config = parseDecoderConfig(bigramConfig);
  const V = config.vocab_size;
  const H = config.hidden_size;
  const weights = new Map<string, Float32Array>();
  for (const [name, dims] of decoderWeightShapes(config)) {
    weights.set(name, new Float32Array(dims.reduce((a, b) => a * b, 1)));
  }
  for (const [name, w] of weights) if (name.endsWith("norm.weight")) w.fill(1);
  const embed = weights.get("embed_tokens.weight")!;
  for (let k = 0; k < V; k++) embed[k * H + k] = 1;
  // rmsnorm(e_k) = e_k / sqrt(1/H + eps); lm_head undoes that scale so logits = L[k][v].
  const scale = 1 / Math.sqrt(1 / H + RMS_EPS);
  const head = weights.get("lm_head.weight")!;
  for (let k = 0; k < V; k++) {
    for (let v = 0; v < V; v++) head[k * V + v] = Math.log(v === bigramNext(k) ? P_NEXT : P_OTHER) / scale;
  }
  writeDecoder(dir, config, { weights });
  return path.join(dir, "model.onnx");
}

export const randomConfig: DecoderConfigInput = {
  vocab_size: 300,
  num_layers: 2,
  num_heads: 4,
  num_kv_heads: 2,
  hidden_size: 32,
  intermediate_size: 64,
  max_position: 128,
};

export function writeRandomModel(dir: string, opts: { seed?: number; externalDataThreshold?: number; config?: DecoderConfigInput } = {}): string {
  writeDecoder(dir, opts.config ?? randomConfig, { seed: opts.seed ?? 7, externalDataThreshold: opts.externalDataThreshold });
  return path.join(dir, "model.onnx");
}

/** A written model registered as a shape stand-in: source "shape", a card that says shapeOnly. */
export const shapeOnlyRef = (id: string, dir: string): ModelRef => ({
  id,
  kind: "decoder-lm",
  source: "shape",
  files: { dir, model: "model.onnx" },
  sha256: null,
  card: { shapeOnly: true },
});

/** A cpu baseline job (run 1, seed 1, no leased baseline) scoring perplexity on a JSONL dataset; `over` sets what a test varies. */
export function perplexityJob(model: ModelRef, dataset: { id: string; file: string }, workDir: string, over: Partial<JobSpec> = {}): JobSpec {
  return {
    runId: 1,
    methodId: "baseline",
    params: {},
    model,
    dataset: { id: dataset.id, task: "perplexity", file: dataset.file, sha256: null },
    runtime: "cpu",
    seed: 1,
    workDir,
    baseline: null,
    ...over,
  };
}

/** A model registered by path with the usual file names (model.onnx, tokenizer.json, config.json in `dir`). */
export function pathModelRef(id: string, dir: string): ModelRef {
  return {
    id,
    kind: "decoder-lm",
    source: "path",
    files: { dir, model: "model.onnx", tokenizer: "tokenizer.json", config: "config.json" },
    sha256: null,
    card: null,
  };
}

export function writeJsonl(file: string, rows: unknown[]): string {
  fs.writeFileSync(file, rows.map((r) => JSON.stringify(r)).join("\n") + "\n");
  return file;
}

/**
 * Rewrites a model the way many optimum exports look: no position_ids input; positions are
 * computed inside the graph as cumsum(attention_mask) - 1 over the last sequence_length entries.
 */
export function dropPositionIdsInput(src: string, dst: string): void {
  const model = readModel(src);
  const g = model.graph!;
  g.input = (g.input ?? []).filter((v) => v.name !== "position_ids");
  const c = (name: string, data: BigInt64Array, dims: number[]) => g.initializer!.push(makeTensor(name, dims, data));
  c("/pos/axis", BigInt64Array.of(1n), []);
  c("/pos/one", BigInt64Array.of(1n), [1]);
  c("/pos/end", BigInt64Array.of(9223372036854775807n), [1]);
  c("/pos/axes", BigInt64Array.of(1n), [1]);
  const nodes = [
    makeNode("CumSum", ["attention_mask", "/pos/axis"], ["/pos/cum"]),
    makeNode("Sub", ["/pos/cum", "/pos/one"], ["/pos/all"]),
    makeNode("Shape", ["input_ids"], ["/pos/seq"], [attr.int("start", 1), attr.int("end", 2)]),
    makeNode("Neg", ["/pos/seq"], ["/pos/start"]),
    makeNode("Slice", ["/pos/all", "/pos/start", "/pos/end", "/pos/axes"], ["position_ids"]),
  ];
  nodes.forEach((n, i) => addNode(model, n, i));
  fs.mkdirSync(path.dirname(dst), { recursive: true });
  writeModel(model, dst);
}
