import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { pruneStructured } from "@/lib/methods/pruning";
import { channelStats } from "@/workers/methods/pruning/activation-stats";
import { pruneStructuredModel, selectStructure, standardize } from "@/workers/methods/pruning/structured";
import { decoderLayers, paramCount, pruneHeads, pruneNeurons, prunedConfig, readWeight, removeDeadCode } from "@/workers/methods/pruning/surgery";
import { sequenceLogits } from "@/workers/methods/calibration";
import { openDecoder } from "@/workers/eval/decoder-session";
import { buildDecoder, writeDecoder } from "@/workers/onnx/decoder-builder";
import { makeNode, readModel, setInitializer, writeModel, type ModelProto } from "@/workers/onnx/model-io";
import { Rng } from "@/workers/data/rng";
import { maxAbs, maxAbsDiff, testWeights } from "../onnx/helpers";
import { structuralJobFixture } from "./structural-job";

const dirs: string[] = [];
const tmp = () => {
  const d = fs.mkdtempSync(path.join(os.tmpdir(), "frontier-prune-"));
  dirs.push(d);
  return d;
};
afterAll(() => {
  for (const d of dirs) fs.rmSync(d, { recursive: true, force: true });
});

/** 2 layers, 4 query heads in 2 kv groups (GQA), head_dim 16. */
const CFG = { vocab_size: 96, num_layers: 2, num_heads: 4, num_kv_heads: 2, hidden_size: 64, intermediate_size: 48, max_position: 64 };
const D = 16;

function save(model: ModelProto, dir = tmp()): string {
  const file = path.join(dir, "model.onnx");
  writeModel(model, file);
  return file;
}

function sequences(n: number, len: number, vocab: number, seed: number): number[][] {
  const rng = new Rng(seed);
  return Array.from({ length: n }, () => Array.from({ length: len }, () => rng.int(vocab)));
}

/** Zeroes columns (or rows) of a row-major [rows, cols] weight. */
function zeroCols(w: Float32Array, cols: number, which: readonly number[]) {
  for (let r = 0; r < w.length / cols; r++) for (const c of which) w[r * cols + c] = 0;
}
function zeroRows(w: Float32Array, cols: number, which: readonly number[]) {
  for (const r of which) w.fill(0, r * cols, (r + 1) * cols);
}
const range = (n: number) => Array.from({ length: n }, (_, i) => i);

describe("prune.structured surgery", () => {
  it("equals the full-size model with the removed heads and neurons zeroed (FLAP's masked form) plus the compensating biases", async () => {
    const weights = testWeights(CFG, 3);
    const H = CFG.hidden_size;
    // Per layer: kv groups kept and neurons kept; the layers differ, so the kv cache differs per layer too.
    const keepGroups = [[1], [0, 1]];
    const keepNeurons = [range(48).filter((i) => i % 3 !== 0), range(48).filter((i) => i < 40)];
    const rng = new Rng(11);
    const attnMean = [Float64Array.from({ length: 4 * D }, () => rng.normal()), Float64Array.from({ length: 4 * D }, () => rng.normal())];
    const mlpMean = [Float64Array.from({ length: 48 }, () => rng.normal()), Float64Array.from({ length: 48 }, () => rng.normal())];

    const model = buildDecoder(CFG, { weights });
    const layers = decoderLayers(model);
    expect(layers.map((l) => [l.numHeads, l.numKvHeads, l.headDim, l.intermediate])).toEqual([
      [4, 2, D, 48],
      [4, 2, D, 48],
    ]);
    layers.forEach((layer, l) => {
      pruneHeads(model, layer, { keepGroups: keepGroups[l], mean: attnMean[l] });
      pruneNeurons(model, layer, keepNeurons[l], mlpMean[l]);
    });
    removeDeadCode(model);
    const pruned = save(model);

    // Reference: the builder's model, removed channels zeroed, biases inserted by hand.
    const ref = new Map([...weights].map(([k, v]) => [k, v.slice()]));
    const bias = new Map<string, Float32Array>();
    for (let l = 0; l < 2; l++) {
      const p = `layers.${l}`;
      const goneGroups = [0, 1].filter((g) => !keepGroups[l].includes(g));
      const goneQ = goneGroups.flatMap((g) => range(2 * D).map((d) => g * 2 * D + d));
      const goneKv = goneGroups.flatMap((g) => range(D).map((d) => g * D + d));
      const goneN = range(48).filter((i) => !keepNeurons[l].includes(i));
      const o = weights.get(`${p}.self_attn.o_proj.weight`)!;
      const down = weights.get(`${p}.mlp.down_proj.weight`)!;
      bias.set(
        `/${p}/attn/o_proj`,
        Float32Array.from({ length: H }, (_, h) => goneQ.reduce((s, r) => s + attnMean[l][r] * o[r * H + h], 0)),
      );
      bias.set(
        `/${p}/mlp/down_proj`,
        Float32Array.from({ length: H }, (_, h) => goneN.reduce((s, r) => s + mlpMean[l][r] * down[r * H + h], 0)),
      );
      zeroCols(ref.get(`${p}.self_attn.q_proj.weight`)!, 4 * D, goneQ);
      zeroCols(ref.get(`${p}.self_attn.k_proj.weight`)!, 2 * D, goneKv);
      zeroCols(ref.get(`${p}.self_attn.v_proj.weight`)!, 2 * D, goneKv);
      zeroRows(ref.get(`${p}.self_attn.o_proj.weight`)!, H, goneQ);
      zeroCols(ref.get(`${p}.mlp.gate_proj.weight`)!, 48, goneN);
      zeroCols(ref.get(`${p}.mlp.up_proj.weight`)!, 48, goneN);
      zeroRows(ref.get(`${p}.mlp.down_proj.weight`)!, H, goneN);
    }
    const masked = buildDecoder(CFG, { weights: ref });
    const nodes = masked.graph!.node!;
    for (const [name, b] of bias) {
      const i = nodes.findIndex((n) => n.name === name);
      nodes[i].output = [`${name}/raw`];
      setInitializer(masked, `${name}/b`, [H], b);
      nodes.splice(i + 1, 0, makeNode("Add", [`${name}/raw`, `${name}/b`], [name], [], { name: `${name}/add_bias` }));
    }
    const reference = save(masked);

    const ids = sequences(1, 12, CFG.vocab_size, 5)[0];
    const a = await sequenceLogits(pruned, ids);
    const b = await sequenceLogits(reference, ids);
    expect(a.length).toBe(b.length);
    expect(maxAbsDiff(a, b)).toBeLessThan(1e-4 * Math.max(1, maxAbs(b)));
    // The biases matter: without them the outputs differ.
    const plain = buildDecoder(CFG, { weights });
    const again = decoderLayers(plain);
    again.forEach((layer, l) => {
      pruneHeads(plain, layer, { keepGroups: keepGroups[l], mean: null });
      pruneNeurons(plain, layer, keepNeurons[l], null);
    });
    expect(maxAbsDiff(await sequenceLogits(save(plain), ids), b)).toBeGreaterThan(1e-2);

    // The matrices really shrank and the cache of layer 0 lost a kv head.
    const out = readModel(pruned);
    const dims = (n: string) => out.graph!.initializer!.find((t) => t.name === n)!.dims!.map(Number);
    expect(dims("layers.0.self_attn.q_proj.weight")).toEqual([H, 2 * D]);
    expect(dims("layers.0.self_attn.k_proj.weight")).toEqual([H, D]);
    expect(dims("layers.0.self_attn.o_proj.weight")).toEqual([2 * D, H]);
    expect(dims("layers.1.self_attn.q_proj.weight")).toEqual([H, 4 * D]);
    expect(dims("layers.0.mlp.down_proj.weight")).toEqual([32, H]);
    expect(dims("layers.1.mlp.gate_proj.weight")).toEqual([H, 40]);
    expect(out.graph!.input!.find((v) => v.name === "past_key_values.0.key")!.type!.tensorType!.shape!.dim![1].dimValue).toBe(1);
    expect(out.graph!.output!.find((v) => v.name === "present.1.value")!.type!.tensorType!.shape!.dim![1].dimValue).toBe(2);

    // The decoder session reads the per-layer kv heads; cached decode equals full recompute.
    const decoder = await openDecoder(pruned, "cpu");
    try {
      expect(decoder.shape.layerKvHeads).toEqual([1, 2]);
      const full = await decoder.forwardFull(ids);
      let last = await decoder.prefill(ids.slice(0, 8));
      for (let t = 8; t < ids.length; t++) {
        expect(maxAbsDiff(last, full.subarray((t - 1) * CFG.vocab_size, t * CFG.vocab_size))).toBeLessThan(1e-4);
        last = await decoder.step(ids[t]);
      }
      expect(maxAbsDiff(last, full.subarray((ids.length - 1) * CFG.vocab_size))).toBeLessThan(1e-4);
      expect(decoder.kvCacheBytes).toBe(2 * (1 + 2) * D * ids.length * 4);
      // Prefix reuse (truncate, as multiple-choice scoring does) keeps each layer's own kv heads.
      await decoder.truncate(9);
      expect(maxAbsDiff(await decoder.step(ids[9]), full.subarray(9 * CFG.vocab_size, 10 * CFG.vocab_size))).toBeLessThan(1e-4);
    } finally {
      await decoder.release();
    }
  });

  it("computes per-channel mean and variance equal to a plain computation over the tapped activations", async () => {
    const model = buildDecoder(CFG, { weights: testWeights(CFG, 4) });
    const layer = decoderLayers(model)[1];
    const tap = layer.linears.down.node.input![0];
    const seqs = sequences(3, 10, CFG.vocab_size, 8);
    const stats = (await channelStats(model, new Map([[tap, 48]]), seqs)).get(tap)!;
    // Plain: the raw activation as a graph output, accumulated here.
    const raw = { ...model, graph: { ...model.graph, output: [...model.graph!.output!, { name: tap }] } };
    const file = save(raw);
    const ort = await import("onnxruntime-node");
    const { decoderFeeds } = await import("@/workers/methods/calibration");
    const session = await ort.InferenceSession.create(file);
    const sum = new Float64Array(48);
    const sq = new Float64Array(48);
    let n = 0;
    for (const s of seqs) {
      const x = (await session.run(decoderFeeds(session, raw, s), [tap]))[tap].data as Float32Array;
      for (let t = 0; t < s.length; t++) {
        n++;
        for (let j = 0; j < 48; j++) {
          sum[j] += x[t * 48 + j];
          sq[j] += x[t * 48 + j] ** 2;
        }
      }
    }
    await session.release();
    expect(stats.tokens).toBe(30);
    // The same through a scratch file (the path models too large for one in-memory protobuf take).
    const viaFile = (await channelStats(model, new Map([[tap, 48]]), seqs, undefined, 0)).get(tap)!;
    expect(Array.from(viaFile.mean)).toEqual(Array.from(stats.mean));
    for (let j = 0; j < 48; j++) {
      const mean = sum[j] / n;
      expect(stats.mean[j]).toBeCloseTo(mean, 4);
      expect(stats.variance[j]).toBeCloseTo(sq[j] / n - mean * mean, 3);
    }
  });
});

describe("prune.structured selection", () => {
  const GQA8 = { vocab_size: 80, num_layers: 3, num_heads: 8, num_kv_heads: 4, hidden_size: 64, intermediate_size: 32, max_position: 64 };

  it("removes whole kv groups, never empties a layer, and the pruned GQA model runs with its cache", async () => {
    const model = buildDecoder(GQA8, { weights: testWeights(GQA8, 6) });
    const seqs = sequences(4, 16, GQA8.vocab_size, 2);
    const out = await pruneStructuredModel(model, seqs, { target: "heads", ratio: 0.9 });
    const layers = decoderLayers(out.model);
    for (const l of layers) {
      expect(l.numKvHeads).toBeGreaterThanOrEqual(1);
      expect(l.numHeads).toBe(2 * l.numKvHeads); // a kv head leaves with both its query heads
      expect(l.linears.q.n).toBe(l.numHeads * 8);
      expect(l.linears.k.n).toBe(l.numKvHeads * 8);
      expect(l.intermediate).toBe(32); // target heads leaves the MLP alone
    }
    // 12 groups, 90% -> 11 asked, but each of the 3 layers keeps one: 9 removed (18 query heads).
    expect(out.headsRemoved).toBe(18);
    expect(out.neuronsRemoved).toBe(0);
    expect(out.paramsRemaining).toBe(paramCount(out.model));
    expect(out.paramsDense - out.paramsRemaining).toBe(9 * (2 * 2 + 2) * 8 * 64 - 3 * 64 /* o_proj biases */);

    const file = save(out.model);
    const decoder = await openDecoder(file, "cpu");
    try {
      const ids = seqs[0];
      const full = await decoder.forwardFull(ids);
      await decoder.prefill(ids.slice(0, 10));
      let last: Float32Array = new Float32Array(0);
      for (let t = 10; t < ids.length; t++) last = await decoder.step(ids[t]);
      expect(maxAbsDiff(last, full.subarray((ids.length - 1) * GQA8.vocab_size))).toBeLessThan(1e-4);
    } finally {
      await decoder.release();
    }
  });

  it("ranks neurons and heads together with cost weights for target both, and meets the ratio", () => {
    const model = buildDecoder(GQA8, { weights: testWeights(GQA8, 1) });
    const layers = decoderLayers(model);
    const rng = new Rng(3);
    const scores = layers.map(() => ({
      groups: standardize(Float64Array.from({ length: 4 }, () => rng.normal())),
      neurons: standardize(Float64Array.from({ length: 32 }, () => rng.normal())),
    }));
    const sel = selectStructure(layers, scores, "both", 0.3);
    const groupCost = (2 * 2 + 2) * 8 * 64;
    const neuronCost = 3 * 64;
    const total = 3 * (4 * groupCost + 32 * neuronCost);
    const removed = sel.keepGroups.reduce((s, k) => s + (4 - k.length) * groupCost, 0) + sel.keepNeurons.reduce((s, k) => s + (32 - k.length) * neuronCost, 0);
    expect(Math.abs(removed - 0.3 * total)).toBeLessThanOrEqual(groupCost / 2);
    // Everything removed scores no higher than anything kept (no layer ran out here).
    const removedScores: number[] = [];
    const keptScores: number[] = [];
    layers.forEach((_, l) => {
      range(4).forEach((g) => (sel.keepGroups[l].includes(g) ? keptScores : removedScores).push(scores[l].groups[g]));
      range(32).forEach((n) => (sel.keepNeurons[l].includes(n) ? keptScores : removedScores).push(scores[l].neurons[n]));
    });
    expect(Math.max(...removedScores)).toBeLessThanOrEqual(Math.min(...keptScores));
    const neurons = selectStructure(layers, scores, "neurons", 0.25);
    expect(neurons.keepGroups.every((k) => k.length === 4)).toBe(true);
    expect(neurons.keepNeurons.reduce((s, k) => s + 32 - k.length, 0)).toBe(24);
  });

  it("writes per-layer widths into config.json when layers differ", async () => {
    const dir = tmp();
    const written = writeDecoder(dir, GQA8, { weights: testWeights(GQA8, 2) });
    const model = readModel(path.join(dir, written.files.model));
    const out = await pruneStructuredModel(model, sequences(2, 12, GQA8.vocab_size, 4), { target: "both", ratio: 0.4 });
    const cfg = prunedConfig(path.join(dir, written.files.model), model, out.layers);
    expect(cfg.head_dim).toBe(8);
    expect(cfg.num_layers).toBe(3);
    const perLayer = out.layers.map((l) => l.numKvHeads);
    if (perLayer.some((h) => h !== perLayer[0])) expect(cfg.layer_num_kv_heads).toEqual(perLayer);
    expect(cfg.intermediate_size).toBe(Math.max(...out.layers.map((l) => l.intermediate)));
  });
});

describe("prune.structured refuses what it cannot do", () => {
  it("rejects bad params by the registry schema", () => {
    expect(pruneStructured.params.safeParse({ target: "layers" }).success).toBe(false);
    expect(pruneStructured.params.safeParse({ ratio: 0.95 }).success).toBe(false);
    expect(pruneStructured.params.parse({})).toMatchObject({ target: "neurons", ratio: 0.25 });
  });

  it("names what is missing in a graph without the docs/decoder.md layout", () => {
    const model = buildDecoder(CFG, { weights: testWeights(CFG, 1) });
    for (const t of model.graph!.initializer!)
      if (t.name?.includes("_proj.weight")) t.name = `onnx::MatMul_${t.name.length}${t.name}`.replace(/layers\./, "blk");
    for (const n of model.graph!.node!)
      n.input = n.input!.map((i) => (i.includes("_proj.weight") ? `onnx::MatMul_${i.length}${i}`.replace(/layers\./, "blk") : i));
    expect(() => decoderLayers(model)).toThrow(/no weights named layers\.\{i\}\.self_attn/);

    const computed = buildDecoder(CFG, { weights: testWeights(CFG, 1) });
    const q = decoderLayers(computed)[0].linears.q.node.output![0];
    const split = computed.graph!.node!.find((n) => n.input?.[0] === q)!;
    // A head split by a computed shape (as exporters write): the head count cannot be located.
    computed.graph!.node!.splice(computed.graph!.node!.indexOf(split), 0, makeNode("Identity", [split.input![1]], ["computed_shape"]));
    split.input![1] = "computed_shape";
    expect(() => decoderLayers(computed)).toThrow(/layer 0: q_proj feeds Reshape .* constant shape; the head count cannot be located/);
  });

  it("keeps weights and shapes untouched when nothing in a layer is removed", () => {
    const model = buildDecoder(CFG, { weights: testWeights(CFG, 1) });
    const layer = decoderLayers(model)[0];
    const before = readWeight(model, layer.linears.q).slice();
    pruneHeads(model, layer, { keepGroups: [0, 1], mean: null });
    expect(readWeight(model, layer.linears.q)).toEqual(before);
    expect(() => pruneHeads(model, layer, { keepGroups: [], mean: null })).toThrow(/cannot remove every attention head/);
    expect(() => pruneNeurons(model, layer, [], null)).toThrow(/cannot remove every MLP neuron/);
  });
});

describe("prune.structured as a job", () => {
  const job = structuralJobFixture();
  afterAll(() => job.cleanup());

  it("writes a smaller model the pipeline evaluates and times against the base", async () => {
    const r = await job.run("prune.structured", { target: "both", ratio: 0.3, calib_samples: 4 });
    for (const key of [
      "perplexity",
      "model_bytes",
      "speedup",
      "decode_ms_per_token",
      "params_remaining",
      "sparsity_overall",
      "heads_removed",
      "neurons_removed",
    ]) {
      expect(r.metrics[key], key).toBeTypeOf("number");
    }
    expect(r.metrics.sparsity_overall).toBeGreaterThan(0);
    expect(r.metrics.heads_removed % 2).toBe(0); // TINY has 2 query heads per kv group
    expect(Number.isFinite(r.metrics.perplexity)).toBe(true);
    const model = r.artifacts.find((a) => a.kind === "model")!;
    const config = JSON.parse(fs.readFileSync(path.join(path.dirname(model.path), "config.json"), "utf8"));
    expect(config.head_dim).toBe(16);
    expect(r.notes.join("\n")).toMatch(/FLAP: target both, ratio 0.3/);
  });
});
