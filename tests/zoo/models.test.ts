import { describe, it, expect } from "vitest";
import fs from "node:fs";
import path from "node:path";
import { readModel, getInitializer } from "@/workers/onnx/model-io";
import { parseDecoderConfig, decoderWeightShapes, decoderParamCount } from "@/workers/onnx/decoder-config";
import { referenceForward } from "@/workers/onnx/reference-forward";
import { openDecoder } from "@/workers/eval/decoder-session";
import { ForwardRunner } from "@/workers/train/trainer";
import { loadTokenizer } from "@/workers/tokenizer/tokenizer";
import { RECALL_KEYS, RECALL_VALUES } from "@/workers/data";
import { ZOO } from "@/workers/train/zoo-specs";

const zoo = path.join(process.cwd(), "zoo");

describe("zoo tokenizer", () => {
  const tok = loadTokenizer(path.join(zoo, "tokenizer.json"));
  it("has every recall key and value as one token", () => {
    for (const k of RECALL_KEYS) expect(tok.encode(` ${k}`), k).toHaveLength(1);
    for (const v of RECALL_VALUES) expect(tok.encode(` ${v}`), v).toHaveLength(1);
  });
  it("round-trips the evaluation files", () => {
    for (const f of fs.readdirSync(path.join(zoo, "datasets")).filter((f) => f.endsWith(".jsonl"))) {
      const text = fs.readFileSync(path.join(zoo, "datasets", f), "utf8");
      expect(tok.decode(tok.encode(text))).toBe(text);
    }
  });
});

describe.each(ZOO.map((s) => s.name))("committed model %s", (name) => {
  const dir = path.join(zoo, name);

  it("ORT logits of model.onnx match the trainer's forward graph and the reference forward", async () => {
    const config = parseDecoderConfig(JSON.parse(fs.readFileSync(path.join(dir, "config.json"), "utf8")));
    const model = readModel(path.join(dir, "model.onnx"));
    const weights = new Map<string, Float32Array>();
    for (const w of decoderWeightShapes(config).keys()) weights.set(w, getInitializer(model, w).data as Float32Array);
    const tok = loadTokenizer(path.join(dir, "tokenizer.json"));
    const ids = [tok.eosId!, ...tok.encode("pairs: dog red, cat blue\n cat blue\n The old king saw 42 birds.")];
    const T = ids.length;
    const V = config.vocab_size;

    const decoder = await openDecoder(path.join(dir, "model.onnx"), "cpu");
    const exported = await decoder.forwardFull(ids);
    await decoder.release();
    const fwd = await ForwardRunner.create(config, 1, T);
    const trainer = await fwd.logits(weights, [ids], tok.padId!);
    await fwd.release();
    const reference = referenceForward(config, weights, { inputIds: [ids] }).logits;

    expect(exported.length).toBe(T * V);
    let vsTrainer = 0;
    let vsReference = 0;
    for (let i = 0; i < T * V; i++) {
      vsTrainer = Math.max(vsTrainer, Math.abs(exported[i] - trainer[i]));
      vsReference = Math.max(vsReference, Math.abs(exported[i] - reference[i]));
    }
    expect(vsTrainer).toBeLessThanOrEqual(1e-4);
    expect(vsReference).toBeLessThanOrEqual(1e-4);
  });

  it("has a card consistent with its files", () => {
    const card = JSON.parse(fs.readFileSync(path.join(dir, "card.json"), "utf8"));
    const config = parseDecoderConfig(card.config);
    expect(card.params).toBe(decoderParamCount(config));
    expect(card.data.recall_eval_pairs).toBeGreaterThanOrEqual(4);
    for (const d of ["grammar", "grammar-mc", "recall", "recall-16", "arithmetic", "copy"]) expect(card.scores[d].test.eval_examples).toBe(200);
    expect(card.scores.grammar.test.perplexity).toBeLessThan(config.vocab_size / 4);
    if (name !== "zoo-base") expect(card.agreement_with_base.agreement).toBeGreaterThan(0);
    expect(fs.readFileSync(path.join(dir, "curve.csv"), "utf8").split("\n")[0]).toMatch(/^step,loss,lr/);
  });
});
