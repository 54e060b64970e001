import fs from "node:fs";
import { sha256File } from "../../hash";
import path from "node:path";
import { readModel, writeModel, type ModelProto } from "../../onnx/model-io";
import type { ArtifactRef } from "../../types";
import { captureActivations, type TapStats } from "../calibration";
import type { MethodContext, MethodResult } from "../types";
import { emitQuantizedLinear, quantizableLinears, type EmitOptions, type LinearTarget, type WeightFormat } from "./emit";
import { bitsPerWeight, type QuantizedWeight, type StorageBytes } from "./quant-math";

export interface LoadedModel {
  model: ModelProto;
  targets: LinearTarget[];
  notes: string[];
}

/**
 * The output head: a linear whose output is a graph output (the logits), or the tied head that
 * reads the transposed embedding.
 */
export function isOutputHead(model: ModelProto, t: LinearTarget): boolean {
  const outputs = new Set((model.graph?.output ?? []).map((v) => v.name ?? ""));
  return t.tied === true || outputs.has(t.node.output?.[0] ?? "");
}

export interface LoadOptions {
  /** Substrings of weight names left in float32 (keep_layers). */
  keep?: readonly string[];
  /** Quantize the output head too; by default it stays in float32 like the embedding, as the references do. */
  quantizeHead?: boolean;
}

/**
 * Reads the base model and its quantizable linears. The embedding is a Gather and never a target;
 * the output head is left out unless `quantizeHead`, the convention of the GPTQ, AWQ and HQQ
 * reference code (measured on zoo-base: the head caused 57-63% of RTN's 3-bit g32 loss).
 */
export function loadTargets(modelPath: string, options: LoadOptions = {}): LoadedModel {
  const keep = options.keep ?? [];
  const model = readModel(modelPath);
  const { targets, skipped } = quantizableLinears(model);
  const notes: string[] = [];
  for (const k of keep) {
    if (!targets.some((t) => t.weightName.includes(k))) throw new Error(`keep_layers: "${k}" matches no linear weight of the model`);
  }
  const head = options.quantizeHead ? [] : targets.filter((t) => isOutputHead(model, t));
  const kept = targets.filter((t) => !head.includes(t) && keep.some((k) => t.weightName.includes(k)));
  const chosen = targets.filter((t) => !kept.includes(t) && !head.includes(t));
  if (chosen.length === 0) throw new Error("the model has no linear weights left to quantize");
  if (skipped.length) notes.push(`left in float32: ${skipped.join(", ")}`);
  if (head.length)
    notes.push(`output head in float32 (the reference convention; quantize_head: true quantizes it): ${head.map((t) => t.weightName).join(", ")}`);
  else if (options.quantizeHead) notes.push("output head quantized (quantize_head: true)");
  if (kept.length) notes.push(`kept in float32 (keep_layers): ${kept.map((t) => t.weightName).join(", ")}`);
  return { model, targets: chosen, notes };
}

/** Tokens per calibration sequence: 256, or the model's context if shorter. */
export function calibrationSeqLen(ctx: MethodContext): number {
  return Math.min(256, ctx.shape.maxPosition ?? 256);
}

/** Calibration statistics for the activation inputs of `targets` (GPTQ, AWQ, SmoothQuant). */
export async function calibrate(ctx: MethodContext, targets: readonly LinearTarget[], samples: number, gram: boolean): Promise<Map<string, TapStats>> {
  const seqLen = calibrationSeqLen(ctx);
  ctx.reporter.stage("calibrate");
  const batches = await ctx.calibrationBatches(samples, seqLen);
  const stats = await captureActivations(
    ctx.modelPath,
    targets.map((t) => ({ name: t.input, k: t.k })),
    batches,
    { gram, scratchDir: ctx.workDir, onProgress: (d, n) => ctx.reporter.progress(0.4 + 0.02 * (d / n)) },
  );
  ctx.reporter.log(`calibration: ${batches.length} sequences x ${batches[0].length} tokens, ${stats.size} distinct linear inputs`);
  return stats;
}

export interface QuantizedLayer {
  target: LinearTarget;
  quantized: QuantizedWeight;
}

export function fileArtifact(kind: string, file: string): ArtifactRef {
  return { kind, path: file, bytes: fs.statSync(file).size, sha256: sha256File(file) };
}

export interface WriteSummary {
  path: string;
  storage: StorageBytes;
  weights: number;
  bitsEffective: number;
  /** The same with the codes packed densely at their own width (scales and zero points as stored). */
  bitsPacked: number;
  artifacts: ArtifactRef[];
}

/** Writes `model` as the run's output model (model.onnx in the work directory, plus its data file when large). */
export function writeRunModel(ctx: MethodContext, model: ModelProto): { path: string; artifacts: ArtifactRef[] } {
  fs.mkdirSync(ctx.workDir, { recursive: true });
  const file = path.join(ctx.workDir, "model.onnx");
  const { dataBytes } = writeModel(model, file);
  // The base model's tokenizer and config beside it make the work directory a model directory that
  // can be registered as a base model itself (POST /api/v1/models with fromRun): a pruned model
  // quantized next. A config the method wrote (structured pruning's new dimensions) is kept.
  for (const name of ["tokenizer.json", "config.json"]) {
    const from = path.join(path.dirname(ctx.modelPath), name);
    const to = path.join(ctx.workDir, name);
    if (fs.existsSync(from) && !fs.existsSync(to)) fs.copyFileSync(from, to);
  }
  const artifacts = [fileArtifact("model", file)];
  if (dataBytes > 0) artifacts.push(fileArtifact("model-data", `${file}.data`));
  return { path: file, artifacts };
}

/** Replaces every layer in `layers` by its quantized form in `format` and writes the model. */
export function emitAndWrite(
  ctx: MethodContext,
  model: ModelProto,
  layers: readonly QuantizedLayer[],
  format: WeightFormat,
  options: EmitOptions,
): WriteSummary {
  ctx.reporter.stage("write");
  const storage: StorageBytes = { codes: 0, scales: 0, zeros: 0 };
  let weights = 0;
  for (const { target, quantized } of layers) {
    const s = emitQuantizedLinear(model, target, quantized, format, options);
    storage.codes += s.codes;
    storage.scales += s.scales;
    storage.zeros += s.zeros;
    weights += target.k * target.n;
  }
  const written = writeRunModel(ctx, model);
  // the codes at their own width, as a dense packing would store them (a 2-bit code sits in a 4-bit container)
  const bits = layers[0]?.quantized.bits ?? 8;
  const packed: StorageBytes = { ...storage, codes: (weights * bits) / 8 };
  return {
    path: written.path,
    storage,
    weights,
    bitsEffective: bitsPerWeight(storage, weights),
    bitsPacked: bitsPerWeight(packed, weights),
    artifacts: written.artifacts,
  };
}

export function describeFormat(format: WeightFormat, bits: number, layers: readonly QuantizedLayer[], options: EmitOptions): string {
  const q = layers[0]?.quantized;
  const grouping = q && q.groupSize < q.cols ? `groups of ${q.groupSize} along K` : "per output channel";
  const zeros =
    !q || q.symmetric
      ? ""
      : q.integerZeros
        ? ", integer zero points"
        : ", fractional zero points (integer part stored, the rest as a per-group correction matmul)";
  if (format === "matmulnbits") {
    const acc =
      options.accuracyLevel === 4
        ? `W${bits}A8: accuracy_level 4 (activations quantized to int8 per block)`
        : `W${bits}A16 weight-only: accuracy_level 0 (float activations)`;
    return `format matmulnbits: com.microsoft MatMulNBits, ${bits}-bit codes, ${grouping}, float32 scales${zeros}, ${acc}`;
  }
  return (
    `format qdq: ONNX DequantizeLinear (opset 21) + MatMul, ${bits}-bit codes in ${bits <= 4 ? "4" : "8"}-bit ${q?.symmetric ? "int" : "uint"} containers, ${grouping}${zeros}, ` +
    `W${bits}A16 weight-only (float activations: sessions set session.qdq_matmulnbits_accuracy_level 0)`
  );
}

/** The result every weight-only quantizer returns. */
export function quantResult(summary: WriteSummary, layers: number, notes: string[]): MethodResult {
  return {
    modelPath: summary.path,
    metrics: { bits_effective: summary.bitsEffective, bits_packed: summary.bitsPacked },
    artifacts: summary.artifacts,
    notes: [
      ...notes,
      `${layers} linear layers quantized (${summary.weights} weights); bits_effective ${summary.bitsEffective.toFixed(3)} = 8 x (codes ${summary.storage.codes} B + scales ${summary.storage.scales} B + zero points ${summary.storage.zeros} B) / weights`,
      ...(summary.bitsPacked < summary.bitsEffective - 1e-9
        ? [`bits_packed ${summary.bitsPacked.toFixed(3)}: the same with the codes packed densely at their own width (the file stores them in wider containers)`]
        : []),
    ],
  };
}

/** Reports fractional progress inside the apply stage. */
export const applyProgress = (ctx: MethodContext, f: number) => ctx.reporter.progress(0.42 + 0.03 * Math.min(1, Math.max(0, f)));
