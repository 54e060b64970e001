import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import * as ort from "onnxruntime-node";
import { afterAll, describe, expect, it } from "vitest";
import { pruneLayerDrop } from "@/lib/methods/pruning";
import { blockInfluence } from "@/workers/methods/pruning/activation-stats";
import { blockPairs, dropModelLayers, lowestInfluence } from "@/workers/methods/pruning/layer-drop";
import { decoderLayers, paramCount } from "@/workers/methods/pruning/surgery";
import { decoderFeeds, sequenceLogits } from "@/workers/methods/calibration";
import { openDecoder } from "@/workers/eval/decoder-session";
import { buildDecoder } from "@/workers/onnx/decoder-builder";
import { writeModel, type ModelProto } from "@/workers/onnx/model-io";
import { Rng } from "@/workers/data/rng";
import { maxAbs, maxAbsDiff, testWeights } from "../onnx/helpers";
import { structuralJobFixture } from "./structural-job";

const dirs: string[] = [];
const save = (model: ModelProto) => {
  const d = fs.mkdtempSync(path.join(os.tmpdir(), "frontier-drop-"));
  dirs.push(d);
  const file = path.join(d, "model.onnx");
  writeModel(model, file);
  return file;
};
afterAll(() => {
  for (const d of dirs) fs.rmSync(d, { recursive: true, force: true });
});

const CFG = { vocab_size: 90, num_layers: 4, num_heads: 4, num_kv_heads: 2, hidden_size: 32, intermediate_size: 48, max_position: 64 };

function sequences(n: number, len: number, seed: number): number[][] {
  const rng = new Rng(seed);
  return Array.from({ length: n }, () => Array.from({ length: len }, () => rng.int(CFG.vocab_size)));
}

/** Weights of `keep` layers renumbered 0..n-1 (the builder's model of the shorter decoder). */
function keptWeights(weights: Map<string, Float32Array>, keep: number[]): Map<string, Float32Array> {
  const out = new Map<string, Float32Array>();
  for (const [name, w] of weights) {
    const m = /^layers\.(\d+)\.(.*)$/.exec(name);
    if (!m) out.set(name, w);
    else if (keep.includes(Number(m[1]))) out.set(`layers.${keep.indexOf(Number(m[1]))}.${m[2]}`, w);
  }
  return out;
}

describe("prune.layer-drop", () => {
  it("removes the chosen blocks: equals the builder's shorter decoder, and cached decode equals full recompute", async () => {
    const weights = testWeights(CFG, 7);
    const model = buildDecoder(CFG, { weights });
    const out = await dropModelLayers(model, { layers: 2, criterion: "last" }, null);
    expect(out.dropped).toEqual([2, 3]);
    // Middle blocks too: a separate model with layers 1 and 2 removed.
    const middle = buildDecoder(CFG, { weights });
    const layers = decoderLayers(middle);
    const { dropLayers } = await import("@/workers/methods/pruning/surgery");
    dropLayers(middle, layers, [1, 2]);
    const file = save(middle);
    const names = middle.graph!.input!.map((v) => v.name).filter((n) => n!.startsWith("past_key_values."));
    expect(names).toEqual(["past_key_values.0.key", "past_key_values.0.value", "past_key_values.1.key", "past_key_values.1.value"]);
    expect(middle.graph!.output!.map((v) => v.name)).toEqual([
      "logits",
      "present.0.key",
      "present.0.value",
      "new_key_values.0.key",
      "new_key_values.0.value",
      "present.1.key",
      "present.1.value",
      "new_key_values.1.key",
      "new_key_values.1.value",
    ]);
    expect(decoderLayers(middle)).toHaveLength(2);

    const reference = save(buildDecoder({ ...CFG, num_layers: 2 }, { weights: keptWeights(weights, [0, 3]) }));
    const ids = sequences(1, 14, 3)[0];
    const want = await sequenceLogits(reference, ids);
    expect(maxAbsDiff(await sequenceLogits(file, ids), want)).toBeLessThan(1e-5 * Math.max(1, maxAbs(want)));
    const last = save(out.model);
    const wantLast = await sequenceLogits(save(buildDecoder({ ...CFG, num_layers: 2 }, { weights: keptWeights(weights, [0, 1]) })), ids);
    expect(maxAbsDiff(await sequenceLogits(last, ids), wantLast)).toBeLessThan(1e-5 * Math.max(1, maxAbs(wantLast)));
    expect(out.paramsDense - out.paramsRemaining).toBe(paramCount(buildDecoder(CFG, { weights })) - paramCount(out.model));

    const decoder = await openDecoder(file, "cpu");
    try {
      expect(decoder.shape.numLayers).toBe(2);
      const full = await decoder.forwardFull(ids);
      let row = await decoder.prefill(ids.slice(0, 6));
      for (let t = 6; t < ids.length; t++) {
        expect(maxAbsDiff(row, full.subarray((t - 1) * CFG.vocab_size, t * CFG.vocab_size))).toBeLessThan(1e-4);
        row = await decoder.step(ids[t]);
      }
      expect(maxAbsDiff(row, full.subarray((ids.length - 1) * CFG.vocab_size))).toBeLessThan(1e-4);
    } finally {
      await decoder.release();
    }
  });

  it("ranks blocks by block influence equal to a plain computation on the same activations", async () => {
    const model = buildDecoder(CFG, { weights: testWeights(CFG, 9) });
    const layers = decoderLayers(model);
    const pairs = blockPairs(layers);
    // h_i for i < L, and h_L the last block's output (the final norm's input).
    expect(pairs.map((p) => p.input).slice(1)).toEqual(pairs.map((p) => p.output).slice(0, -1));
    const seqs = sequences(3, 12, 4);
    const bi = await blockInfluence(model, pairs, seqs);

    const names = [...pairs.map((p) => p.input), pairs[pairs.length - 1].output];
    const raw = { ...model, graph: { ...model.graph, output: [...model.graph!.output!, ...names.map((name) => ({ name }))] } };
    const session = await ort.InferenceSession.create(save(raw));
    const sums = new Float64Array(layers.length);
    let tokens = 0;
    for (const s of seqs) {
      const out = await session.run(decoderFeeds(session, raw, s), names);
      const h = names.map((n) => out[n].data as Float32Array);
      const H = CFG.hidden_size;
      for (let t = 0; t < s.length; t++) {
        tokens++;
        for (let i = 0; i < layers.length; i++) {
          let dot = 0;
          let na = 0;
          let nb = 0;
          for (let j = 0; j < H; j++) {
            const a = h[i][t * H + j];
            const b = h[i + 1][t * H + j];
            dot += a * b;
            na += a * a;
            nb += b * b;
          }
          sums[i] += 1 - dot / Math.sqrt(na * nb);
        }
      }
    }
    await session.release();
    const plain = Array.from(sums, (s) => s / tokens);
    for (let i = 0; i < layers.length; i++) expect(bi[i]).toBeCloseTo(plain[i], 5);
    const byPlain = plain
      .map((v, i) => ({ v, i }))
      .sort((a, b) => a.v - b.v)
      .slice(0, 2)
      .map((x) => x.i)
      .sort((a, b) => a - b);
    expect(lowestInfluence(bi, 2)).toEqual(byPlain);
    const dropped = await dropModelLayers(model, { layers: 2, criterion: "block-influence" }, seqs);
    expect(dropped.dropped).toEqual(byPlain);
    expect(dropped.influence).toEqual(bi);
  });

  it("refuses to remove every layer and bad params", async () => {
    const model = buildDecoder(CFG, { weights: testWeights(CFG, 1) });
    await expect(dropModelLayers(model, { layers: 4, criterion: "last" }, null)).rejects.toThrow(
      /removing 4 of the model's 4 decoder layers would leave none; choose at most 3/,
    );
    await expect(dropModelLayers(model, { layers: 1, criterion: "block-influence" }, null)).rejects.toThrow(/needs calibration sequences/);
    expect(pruneLayerDrop.params.safeParse({ layers: 0 }).success).toBe(false);
    expect(pruneLayerDrop.params.safeParse({ criterion: "first" }).success).toBe(false);
    expect(pruneLayerDrop.calibrates!(pruneLayerDrop.params.parse({ criterion: "last" }))).toBe(false);
    expect(pruneLayerDrop.calibrates!(pruneLayerDrop.params.parse({}))).toBe(true);
  });
});

describe("prune.layer-drop as a job", () => {
  const job = structuralJobFixture();
  afterAll(() => job.cleanup());

  it("drops the lowest-influence block; the pipeline evaluates and times the shorter model", async () => {
    const r = await job.run("prune.layer-drop", { layers: 1, calib_samples: 4 });
    for (const key of ["perplexity", "model_bytes", "speedup", "params_remaining", "sparsity_overall", "layers_removed"])
      expect(r.metrics[key], key).toBeTypeOf("number");
    expect(r.metrics.layers_removed).toBe(1);
    expect(r.notes.join("\n")).toMatch(/block influence per layer: 0: [\d.]+, 1: [\d.]+/);
    const model = r.artifacts.find((a) => a.kind === "model")!;
    expect(JSON.parse(fs.readFileSync(path.join(path.dirname(model.path), "config.json"), "utf8")).num_layers).toBe(1);
    await expect(job.run("prune.layer-drop", { layers: 2, criterion: "last" })).rejects.toThrow(/removing 2 of the model's 2 decoder layers would leave none/);
  });
});
