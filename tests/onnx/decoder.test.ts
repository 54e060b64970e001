import { existsSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import * as ort from "onnxruntime-node";
import * as ortWeb from "onnxruntime-web";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { buildDecoder, writeDecoder } from "@/workers/onnx/decoder-builder";
import { decoderParamCount, decoderWeightShapes, parseDecoderConfig, type DecoderConfigInput } from "@/workers/onnx/decoder-config";
import { encodeModel, findLinearWeights, getInitializer, getOpsetImports, modelBytes, readModel } from "@/workers/onnx/model-io";
import { fillNormal, fillNormalReference } from "@/workers/onnx/random";
import { referenceForward } from "@/workers/onnx/reference-forward";
import { decoderFeeds, GQA, logitsRow, maxAbs, maxAbsDiff, PADDED_BATCH, testWeights } from "./helpers";

const TIED: DecoderConfigInput = { ...GQA, num_kv_heads: 4, intermediate_size: 40, tie_embeddings: true, rope_theta: 500 };
const MQA: DecoderConfigInput = { ...GQA, num_kv_heads: 1, num_layers: 1 };

const { ids: IDS, mask: MASK, pos: POS } = PADDED_BATCH;
const TOL = 1e-4;

const dir = mkdtempSync(path.join(os.tmpdir(), "frontier-decoder-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
beforeAll(() => {
  ortWeb.env.wasm.numThreads = 1;
});

type Outputs = Record<string, { data: unknown; dims: readonly number[] }>;

async function session(config: DecoderConfigInput, weights: Map<string, Float32Array>) {
  return ort.InferenceSession.create(encodeModel(buildDecoder(config, { weights })));
}

function presentsOf(out: Outputs, layers: number) {
  return Array.from({ length: layers }, (_, l) => ({
    key: out[`present.${l}.key`].data as Float32Array,
    value: out[`present.${l}.value`].data as Float32Array,
  }));
}

describe("decoder builder vs the reference forward (docs/decoder.md)", () => {
  for (const [label, config] of [
    ["GQA (4 heads, 2 kv heads)", GQA],
    ["tied embeddings, rope_theta 500", TIED],
    ["one kv head", MQA],
  ] as const) {
    it(`ORT logits and presents match the reference: ${label}`, async () => {
      const weights = testWeights(config, 7);
      const s = await session(config, weights);
      const out = (await s.run(decoderFeeds(ort, config, { ids: IDS, mask: MASK, pos: POS }))) as Outputs;
      await s.release();
      const ref = referenceForward(config, weights, { inputIds: IDS, attentionMask: MASK, positionIds: POS });
      const logits = out.logits.data as Float32Array;
      expect(out.logits.dims).toEqual(ref.dims);
      expect(maxAbs(ref.logits)).toBeGreaterThan(0.5);
      expect(maxAbsDiff(logits, ref.logits)).toBeLessThan(TOL);
      const layers = parseDecoderConfig(config).num_layers;
      presentsOf(out, layers).forEach((p, l) => {
        expect(maxAbsDiff(p.key, ref.presents[l].key)).toBeLessThan(TOL);
        expect(maxAbsDiff(p.value, ref.presents[l].value)).toBeLessThan(TOL);
      });
    });
  }

  it("the comparison is sensitive: a reference with another rope_theta disagrees", async () => {
    const weights = testWeights(GQA, 7);
    const s = await session(GQA, weights);
    const out = (await s.run(decoderFeeds(ort, GQA, { ids: IDS, mask: MASK, pos: POS }))) as Outputs;
    await s.release();
    const wrong = referenceForward({ ...GQA, rope_theta: 5000 }, weights, { inputIds: IDS, attentionMask: MASK, positionIds: POS });
    expect(maxAbsDiff(out.logits.data as Float32Array, wrong.logits)).toBeGreaterThan(1e-2);
  });
});

describe("cached decoding", () => {
  for (const [label, config] of [
    ["GQA", GQA],
    ["tied", TIED],
  ] as const) {
    it(`prefill then one-token steps give the full-sequence logits, with left padding: ${label}`, async () => {
      const c = parseDecoderConfig(config);
      const s = await session(config, testWeights(config, 11));
      const T = IDS[0].length;
      const full = (await s.run(decoderFeeds(ort, config, { ids: IDS, mask: MASK, pos: POS }))) as Outputs;
      const fullLogits = full.logits.data as Float32Array;

      // prefill T-3 tokens, then three single-token steps
      const pre = T - 3;
      let out = (await s.run(
        decoderFeeds(ort, config, { ids: IDS.map((r) => r.slice(0, pre)), mask: MASK.map((r) => r.slice(0, pre)), pos: POS.map((r) => r.slice(0, pre)) }),
      )) as Outputs;
      for (let t = pre; t < T; t++) {
        out = (await s.run(
          decoderFeeds(ort, config, {
            ids: IDS.map((r) => [r[t]]),
            mask: MASK.map((r) => r.slice(0, t + 1)),
            pos: POS.map((r) => [r[t]]),
            past: presentsOf(out, c.num_layers),
            pastLength: t,
          }),
        )) as Outputs;
        const step = out.logits.data as Float32Array;
        for (let b = 0; b < IDS.length; b++) {
          const diff = maxAbsDiff(logitsRow(step, 1, c.vocab_size, b, 0), logitsRow(fullLogits, T, c.vocab_size, b, t));
          expect(diff).toBeLessThan(TOL);
        }
      }
      // Keys at padded positions are never attended to; deeper layers' keys there legitimately
      // differ (a fully masked query averages over whatever keys exist), so compare real tokens.
      const D = c.hidden_size / c.num_heads;
      presentsOf(out, c.num_layers).forEach((p, l) => {
        const fullKey = full[`present.${l}.key`].data as Float32Array;
        for (let b = 0; b < IDS.length; b++)
          for (let h = 0; h < c.num_kv_heads; h++)
            for (let t = 0; t < T; t++) {
              if (MASK[b][t] === 0) continue;
              const at = ((b * c.num_kv_heads + h) * T + t) * D;
              expect(maxAbsDiff(p.key.subarray(at, at + D), fullKey.subarray(at, at + D))).toBeLessThan(TOL);
            }
      });
      await s.release();
    });
  }

  it("a fully padded query row stays finite", async () => {
    const s = await session(GQA, testWeights(GQA, 3));
    const out = (await s.run(decoderFeeds(ort, GQA, { ids: [[4, 4, 9]], mask: [[0, 0, 1]], pos: [[0, 0, 0]] }))) as Outputs;
    await s.release();
    expect((out.logits.data as Float32Array).every(Number.isFinite)).toBe(true);
  });
});

describe("onnxruntime-web (wasm) vs onnxruntime-node", () => {
  it("gives the same logits for prefill and a cached step", async () => {
    const config = GQA;
    const c = parseDecoderConfig(config);
    const bytes = encodeModel(buildDecoder(config, { weights: testWeights(config, 5) }));
    const node = await ort.InferenceSession.create(bytes);
    const web = await ortWeb.InferenceSession.create(bytes, { executionProviders: ["wasm"] });
    const prefill = { ids: IDS.map((r) => r.slice(0, 6)), mask: MASK.map((r) => r.slice(0, 6)), pos: POS.map((r) => r.slice(0, 6)) };
    const a = (await node.run(decoderFeeds(ort, config, prefill))) as Outputs;
    const b = (await web.run(decoderFeeds(ortWeb, config, prefill))) as Outputs;
    expect(maxAbs(a.logits.data as Float32Array)).toBeGreaterThan(0.5);
    expect(maxAbsDiff(a.logits.data as Float32Array, b.logits.data as Float32Array)).toBeLessThan(TOL);

    const step = { ids: IDS.map((r) => [r[6]]), mask: MASK, pos: POS.map((r) => [r[6]]), pastLength: 6 };
    const a2 = (await node.run(decoderFeeds(ort, config, { ...step, past: presentsOf(a, c.num_layers) }))) as Outputs;
    const b2 = (await web.run(decoderFeeds(ortWeb, config, { ...step, past: presentsOf(b, c.num_layers) }))) as Outputs;
    expect(maxAbsDiff(a2.logits.data as Float32Array, b2.logits.data as Float32Array)).toBeLessThan(TOL);
    await node.release();
    await web.release();
  });
});

describe("writing and validating decoders", () => {
  it("writes model.onnx, config.json and tokenizer.json; weights read back unchanged", async () => {
    const weights = testWeights(GQA, 21);
    const out = path.join(dir, "inline");
    const written = writeDecoder(out, GQA, { weights });
    expect(written.files).toEqual({ model: "model.onnx", config: "config.json", tokenizer: "tokenizer.json" });
    expect(written.params).toBe(decoderParamCount(parseDecoderConfig(GQA)));
    expect(modelBytes(path.join(out, "model.onnx"))).toBe(written.bytes);
    expect(JSON.parse(readFileSync(path.join(out, "config.json"), "utf8"))).toEqual(parseDecoderConfig(GQA));
    const tok = JSON.parse(readFileSync(path.join(out, "tokenizer.json"), "utf8"));
    expect(tok.model.type).toBe("BPE");
    expect(Math.max(...(Object.values(tok.model.vocab) as number[]))).toBeLessThan(64);

    const model = readModel(path.join(out, "model.onnx"));
    expect(getOpsetImports(model)).toEqual([{ domain: "", version: 21 }]);
    for (const [name, w] of weights) expect(getInitializer(model, name).data).toEqual(w);
  });

  it("puts large weights in model.onnx.data and ORT runs it from the path", async () => {
    const weights = testWeights(TIED, 22);
    const out = path.join(dir, "external");
    const written = writeDecoder(out, TIED, { weights, externalDataThreshold: 1024 });
    expect(written.files.data).toBe("model.onnx.data");
    expect(existsSync(path.join(out, "model.onnx.data"))).toBe(true);
    expect(modelBytes(path.join(out, "model.onnx"))).toBe(written.bytes);
    const model = readModel(path.join(out, "model.onnx"), { loadExternalData: false });
    expect(model.graph!.initializer!.find((t) => t.name === "embed_tokens.weight")!.dataLocation).toBe(1);
    expect(getInitializer(model, "layers.1.mlp.down_proj.weight").data).toEqual(weights.get("layers.1.mlp.down_proj.weight"));

    const s = await ort.InferenceSession.create(path.join(out, "model.onnx"));
    const res = (await s.run(decoderFeeds(ort, TIED, { ids: IDS, mask: MASK, pos: POS }))) as Outputs;
    await s.release();
    const ref = referenceForward(TIED, weights, { inputIds: IDS, attentionMask: MASK, positionIds: POS });
    expect(maxAbsDiff(res.logits.data as Float32Array, ref.logits)).toBeLessThan(TOL);
  });

  it("names bad configs and mismatched weights", () => {
    expect(() => buildDecoder({ ...GQA, hidden_size: 30 })).toThrow(/hidden_size: hidden_size 30 is not a multiple of num_heads 4/);
    expect(() => buildDecoder({ ...GQA, num_kv_heads: 3 })).toThrow(/num_kv_heads: num_heads 4 is not a multiple of num_kv_heads 3/);
    expect(() => buildDecoder({ ...GQA, vocab_size: undefined } as unknown as DecoderConfigInput)).toThrow(/vocab_size/);
    const weights = testWeights(GQA, 1);
    weights.delete("layers.0.mlp.up_proj.weight");
    weights.set("layers.0.mlp.extra.weight", new Float32Array(4));
    weights.set("norm.weight", new Float32Array(31));
    expect(() => buildDecoder(GQA, { weights })).toThrow(
      /missing: layers\.0\.mlp\.up_proj\.weight; unexpected: layers\.0\.mlp\.extra\.weight; norm\.weight: expected 32 values for \[32\], got 31/,
    );
    const tied = testWeights(GQA, 1);
    expect(() => buildDecoder(TIED, { weights: tied })).toThrow(/unexpected: lm_head\.weight \(tie_embeddings is set\)/);
  });

  it("exposes every projection as a MatMul over a named [in, out] initializer", () => {
    const c = parseDecoderConfig(GQA);
    const linear = findLinearWeights(buildDecoder(GQA));
    const shapes = decoderWeightShapes(c);
    const expected = [...shapes].filter(([n]) => n.endsWith("_proj.weight") || n === "lm_head.weight");
    expect(linear.map((l) => l.weightName).sort()).toEqual(expected.map(([n]) => n).sort());
    for (const l of linear) expect([l.k, l.n]).toEqual(shapes.get(l.weightName));
    // tied: the head reuses embed_tokens through a Transpose, so it is no separate linear weight
    expect(findLinearWeights(buildDecoder(TIED)).some((l) => l.weightName.startsWith("embed"))).toBe(false);
  });

  it("seeded random weights: N(0, 0.02) projections, unit norms, reproducible", () => {
    const a = buildDecoder(GQA, { seed: 3 });
    const b = buildDecoder(GQA, { seed: 3 });
    const c = buildDecoder(GQA, { seed: 4 });
    const name = "layers.0.mlp.gate_proj.weight";
    const w = getInitializer(a, name).data as Float32Array;
    expect(getInitializer(b, name).data).toEqual(w);
    expect(getInitializer(c, name).data).not.toEqual(w);
    const mean = w.reduce((s, v) => s + v, 0) / w.length;
    const std = Math.sqrt(w.reduce((s, v) => s + (v - mean) ** 2, 0) / w.length);
    expect(Math.abs(mean)).toBeLessThan(0.003);
    expect(std).toBeGreaterThan(0.018);
    expect(std).toBeLessThan(0.022);
    expect(Array.from(getInitializer(a, "layers.1.input_layernorm.weight").data as Float32Array).every((v) => v === 1)).toBe(true);
    // the inlined generator reproduces the plain one exactly (cached shape models stay valid)
    const fast = fillNormal(new Float32Array(10001), 0.02, 9, "embed_tokens.weight");
    expect(fast).toEqual(fillNormalReference(new Float32Array(10001), 0.02, 9, "embed_tokens.weight"));
  });
});
