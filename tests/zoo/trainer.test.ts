import { describe, it, expect } from "vitest";
import * as ort from "onnxruntime-node";
import { parseDecoderConfig, decoderWeightShapes } from "@/workers/onnx/decoder-config";
import { referenceForward } from "@/workers/onnx/reference-forward";
import { buildDecoderGraph, initWeights } from "@/workers/train/model";
import { train, ForwardRunner, sessionOptions } from "@/workers/train/trainer";
import { trainBpe } from "@/workers/tokenizer/train-bpe";
import { tokenizerFromJson } from "@/workers/tokenizer/tokenizer";
import { tokenizerCorpus } from "@/workers/data";

const tiny = parseDecoderConfig({ vocab_size: 24, num_layers: 2, num_heads: 4, num_kv_heads: 2, hidden_size: 16, intermediate_size: 24, max_position: 16 });

describe("training-step graph", () => {
  it("gradients match central finite differences on every weight", async () => {
    const B = 2;
    const T = 6;
    const graph = buildDecoderGraph(tiny, B, T, "train");
    const session = await ort.InferenceSession.create(graph.bytes, sessionOptions());
    const w = initWeights(tiny, 4);
    // larger than the 0.02 init so that every path carries signal well above float32 rounding
    for (const [name, v] of w) if (!name.endsWith("norm.weight")) for (let i = 0; i < v.length; i++) v[i] *= 12;
    const shapes = decoderWeightShapes(tiny);
    const ids = BigInt64Array.from([1, 5, 9, 2, 7, 3, 11, 4, 8, 20, 6, 13].map(BigInt));
    const targets = BigInt64Array.from([5, 9, 2, 7, 3, 1, 4, 8, 20, 6, 13, 0].map(BigInt));
    const lw = Float32Array.from([0.1, 0.1, 0, 0.1, 0.1, 0.1, 0.05, 0.05, 0.1, 0.1, 0.1, 0.1]);
    const run = async () => {
      const feeds: Record<string, ort.Tensor> = {};
      for (const [k, v] of w) feeds[k] = new ort.Tensor("float32", v, shapes.get(k)!);
      feeds.input_ids = new ort.Tensor("int64", ids, [B * T]);
      feeds.targets = new ort.Tensor("int64", targets, [B * T]);
      feeds.loss_weights = new ort.Tensor("float32", lw, [B * T, 1]);
      return session.run(feeds);
    };
    const base = await run();
    let checked = 0;
    for (const name of graph.weightNames) {
      const grad = base[`grad.${name}`].data as Float32Array;
      const v = w.get(name)!;
      expect(grad.length).toBe(v.length);
      for (const idx of [0, Math.floor(v.length / 3), v.length - 1]) {
        const orig = v[idx];
        const eps = 1e-2;
        v[idx] = orig + eps;
        const lp = ((await run()).loss.data as Float32Array)[0];
        v[idx] = orig - eps;
        const lm = ((await run()).loss.data as Float32Array)[0];
        v[idx] = orig;
        const fd = (lp - lm) / (2 * eps);
        expect(Math.abs(fd - grad[idx])).toBeLessThan(2e-3 + 0.02 * Math.abs(fd));
        checked++;
      }
    }
    expect(checked).toBe(graph.weightNames.length * 3);
    await session.release();
  });

  it("the trainer's forward graph matches the float64 reference forward", async () => {
    const w = initWeights(tiny, 9);
    for (const v of w.values()) for (let i = 0; i < v.length; i++) v[i] *= 15;
    const rows = [
      [1, 2, 3, 4, 5, 6, 7, 8],
      [23, 8, 7, 0, 5, 4, 3, 2],
    ];
    const fwd = await ForwardRunner.create(tiny, 2, 8);
    const ours = await fwd.logits(w, rows, 0);
    const ref = referenceForward(tiny, w, { inputIds: rows }).logits;
    let maxDiff = 0;
    for (let i = 0; i < ref.length; i++) maxDiff = Math.max(maxDiff, Math.abs(ours[i] - ref[i]));
    expect(maxDiff).toBeLessThan(1e-4 * 50); // logits here reach ~50, so this is 1e-4 relative
    await fwd.release();
  });
});

describe("trainer", () => {
  it("a micro model trains for a few steps and the loss falls", async () => {
    const tok = tokenizerFromJson(trainBpe(tokenizerCorpus(2, 200), 300).json);
    const spec = {
      name: "micro",
      config: { vocab_size: 300, num_layers: 1, num_heads: 2, num_kv_heads: 1, hidden_size: 16, intermediate_size: 32, max_position: 32 },
      seed: 1,
      batch: 4,
      seq: 32,
      steps: 30,
      lr: 1e-2,
      warmup: 3,
      minLrRatio: 0.1,
      weightDecay: 0.1,
      clip: 1,
      mix: { weights: { grammar: 1, recall: 0, arithmetic: 0, copy: 0 }, recallMinPairs: 2, recallMaxPairs: 4, recallCurriculum: 0 },
      evalEvery: 1000,
    };
    const val = { texts: ["The dog runs.", "My friend saw the old house."], exact: {} };
    const a = await train(spec, tok, val);
    const losses = a.curve.map((p) => p.loss);
    expect(losses[0]).toBeGreaterThan(Math.log(300) - 0.5);
    expect(a.finalLoss).toBeLessThan(losses[0] - 1);
    expect(a.curve.at(-1)!.eval!.grammar_ppl).toBeLessThan(150);
    // fixed seed: the same weights on every run
    const b = await train(spec, tok, val);
    expect(Array.from(b.weights.get("embed_tokens.weight")!.slice(0, 50))).toEqual(Array.from(a.weights.get("embed_tokens.weight")!.slice(0, 50)));
    expect(b.finalLoss).toBe(a.finalLoss);
  });
});
