import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import * as ort from "onnxruntime-node";
import { afterAll, describe, expect, it } from "vitest";
import { buildDecoder } from "@/workers/onnx/decoder-builder";
import { decoderParamCount } from "@/workers/onnx/decoder-config";
import { getInitializer, modelBytes, readModel } from "@/workers/onnx/model-io";
import { ensureShapeModel, readShapeCard, shapeModelConfig } from "@/workers/onnx/shapes";
import { loadTokenizer } from "@/workers/tokenizer/tokenizer";
import { decoderFeeds, maxAbsDiff } from "./helpers";

const dir = mkdtempSync(path.join(os.tmpdir(), "frontier-shapes-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

async function logits(file: string): Promise<Float32Array> {
  const s = await ort.InferenceSession.create(file);
  const out = await s.run(decoderFeeds(ort, shapeModelConfig("tiny"), { ids: [[1, 300, 7, 42]] }));
  await s.release();
  return out.logits.data as Float32Array;
}

describe("shape-only models", () => {
  it("named configs have the advertised sizes", () => {
    const small = decoderParamCount(shapeModelConfig("shape-125m"));
    expect(small).toBeGreaterThan(120e6);
    expect(small).toBeLessThan(130e6);
    const big = shapeModelConfig("1b");
    expect(big).toMatchObject({ hidden_size: 2048, num_layers: 22, num_heads: 32, num_kv_heads: 4, intermediate_size: 5632, vocab_size: 32000 });
    expect(decoderParamCount(big)).toBeGreaterThan(1.09e9);
    expect(decoderParamCount(big)).toBeLessThan(1.11e9);
    expect(() => shapeModelConfig("7b")).toThrow(/unknown shape model "7b"; known: shape-tiny, shape-125m, shape-1b/);
  });

  it("generates once into the cache, marks itself shape-only, and runs", async () => {
    const cache = path.join(dir, "cache");
    const file = await ensureShapeModel("shape-tiny", cache);
    expect(file).toBe(path.join(cache, "shape-tiny", "model.onnx"));
    const card = readShapeCard(path.dirname(file))!;
    expect(card).toMatchObject({ name: "shape-tiny", kind: "decoder-lm", shapeOnly: true, seed: 0 });
    expect(card.params).toBe(decoderParamCount(shapeModelConfig("tiny")));
    expect(card.bytes).toBe(modelBytes(file));
    const tokenizer = JSON.parse(readFileSync(path.join(cache, "shape-tiny", "tokenizer.json"), "utf8"));
    expect(tokenizer.pre_tokenizer.type).toBe("ByteLevel");
    expect(Object.keys(tokenizer.model.vocab)).toHaveLength(257);
    // the project's own tokenizer.json loader reads it: bytes in, the same bytes out
    const tok = loadTokenizer(path.join(cache, "shape-tiny", "tokenizer.json"));
    const text = "Shape models, wörld!\n";
    const ids = tok.encode(text);
    expect(ids).toHaveLength(Buffer.byteLength(text));
    expect(Math.max(...ids)).toBeLessThan(512);
    expect(tok.decode(ids)).toBe(text);
    expect(tok.eosId).toBe(256);
    const meta = readModel(file).metadataProps!.find((p) => p.key === "frontier.shape_only");
    expect(meta?.value).toBe("true");

    const mtime = statSync(file).mtimeMs;
    expect(await ensureShapeModel("tiny", cache)).toBe(file);
    expect(statSync(file).mtimeMs).toBe(mtime);
    expect(readdirSync(cache)).toEqual(["shape-tiny"]); // no temporary directories left behind

    const out = await logits(file);
    expect(out.every(Number.isFinite)).toBe(true);
  });

  it("streams weights to external data with the same values as the in-memory builder", async () => {
    const cache = path.join(dir, "external");
    const file = await ensureShapeModel("tiny", cache, { externalDataThreshold: 1024, seed: 5 });
    expect(existsSync(`${file}.data`)).toBe(true);
    const model = readModel(file, { loadExternalData: false });
    const inMemory = buildDecoder(shapeModelConfig("tiny"), { seed: 5 });
    for (const name of ["embed_tokens.weight", "layers.1.self_attn.k_proj.weight", "norm.weight"]) {
      expect(getInitializer(model, name).data).toEqual(getInitializer(inMemory, name).data);
    }
    const inline = await ensureShapeModel("tiny", path.join(dir, "inline5"), { seed: 5 });
    expect(existsSync(`${inline}.data`)).toBe(false);
    expect(maxAbsDiff(await logits(file), await logits(inline))).toBe(0);
    // another seed is another model, regenerated in place
    await ensureShapeModel("tiny", cache, { externalDataThreshold: 1024, seed: 6 });
    expect(readShapeCard(path.dirname(file))!.seed).toBe(6);
  });
});
