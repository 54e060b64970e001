/**
 * AWQ against the reference's procedure (llm-awq auto_scale / auto_clip): the block-output scale
 * search agrees with a brute-force search through the full model, clipping never raises a group's
 * output error, the v->o scales fold into v_proj without a Mul, and end to end AWQ beats RTN.
 */
import fs from "node:fs";
import path from "node:path";
import * as ort from "onnxruntime-node";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { encodeModel, readModel, type ModelProto } from "../../workers/onnx/model-io";
import { writeDecoder } from "../../workers/onnx/decoder-builder";
import { captureActivations, meanAbs, sequenceLogits } from "../../workers/methods/calibration";
import { quantizableLinears, writeRowWeight } from "../../workers/methods/quantization/emit";
import { findFoldSite, foldInputScale, groupByInput, groupWeights, type LinearGroup } from "../../workers/methods/quantization/fold";
import { dequantize, effectiveGroupSize, quantizeRtn } from "../../workers/methods/quantization/quant-math";
import { awqScales, awqSearchBy, scaledQuantized } from "../../workers/methods/quantization/scaling";
import { BlockEvaluator, batchDecoderFeeds, captureTensors, chunkSequences, extractBlock, findBlockOutput } from "../../workers/methods/quantization/awq-block";
import { autoClip, skipsClip } from "../../workers/methods/quantization/awq-clip";
import { relativeMaxDiff } from "../../workers/methods/quantization/awq";
import { executeJob } from "../../workers/execute";
import type { JobReporter } from "../../workers/types";
import { pathModelRef, perplexityJob } from "../engine/fixtures";
import { Rng } from "../../workers/data/rng";
import { TINY, tinyWeights, tmpDir, tokenSequences, writeTinyDecoder } from "./decoder-fixture";

let root: string;
let gqaFile: string;
let mhaFile: string;
const seqs = tokenSequences(4, 32);
const spec = { bits: 3 as const, groupSize: 32, symmetric: false };

beforeAll(() => {
  root = tmpDir("frontier-awq-");
  const gqa = writeTinyDecoder(path.join(root, "gqa"));
  gqaFile = path.join(gqa.dir, gqa.files.model);
  // the same weights with one KV head per query head (v_proj as wide as o_proj's input)
  const mhaConfig = { ...TINY, num_kv_heads: TINY.num_heads };
  const mha = writeDecoder(path.join(root, "mha"), mhaConfig, { weights: mhaWeights() });
  mhaFile = path.join(mha.dir, mha.files.model);
});
afterAll(() => fs.rmSync(root, { recursive: true, force: true }));

function mhaWeights(): Map<string, Float32Array> {
  const w = tinyWeights();
  const rng = new Rng(11);
  const h = TINY.hidden_size;
  for (let l = 0; l < TINY.num_layers; l++) {
    for (const p of ["k_proj", "v_proj"]) {
      w.set(
        `layers.${l}.self_attn.${p}.weight`,
        Float32Array.from({ length: h * h }, () => rng.normal() / Math.sqrt(h)),
      );
    }
  }
  return w;
}

function decoderGroups(model: ModelProto) {
  const outputs = new Set((model.graph?.output ?? []).map((v) => v.name));
  const targets = quantizableLinears(model).targets.filter((t) => !outputs.has(t.node.output?.[0]));
  return { targets, groups: groupByInput(targets) };
}

const groupOf = (groups: LinearGroup[], weight: string) => groups.find((g) => g.members.some((m) => m.weightName === weight))!;

/** Block output (a tensor inside the model) for each sequence, with the given member weights written into a copy of the model. */
async function fullModelOutput(file: string, group: LinearGroup, output: string, weights: Float32Array[] | null): Promise<Float32Array[]> {
  const model = readModel(file);
  const linears = quantizableLinears(model).targets;
  group.members.forEach((m, i) => {
    if (weights) writeRowWeight(model, linears.find((t) => t.weightName === m.weightName)!, weights[i]);
  });
  model.graph!.output!.push({ name: output, type: { tensorType: { elemType: 1 } } });
  const session = await ort.InferenceSession.create(encodeModel(model));
  try {
    const out: Float32Array[] = [];
    for (const s of seqs) {
      const r = await session.run(batchDecoderFeeds(session.inputNames, model.graph!.input!, [s]), [output]);
      out.push(r[output].data as Float32Array);
    }
    return out;
  } finally {
    await session.release();
  }
}

describe("AWQ scale search on the block output", () => {
  it("picks the alpha a brute-force search through the full model picks, with the same losses", async () => {
    const model = readModel(gqaFile);
    const { targets, groups } = decoderGroups(model);
    const stats = await captureActivations(
      gqaFile,
      targets.map((t) => ({ name: t.input, k: t.k })),
      seqs,
      { gram: false, scratchDir: root },
    );
    const grid = 8;
    const cases = [
      ["layers.0.self_attn.q_proj.weight", "layers.0.self_attn.o_proj.weight"],
      ["layers.1.mlp.gate_proj.weight", "layers.1.mlp.down_proj.weight"],
    ];
    for (const [member, inspected] of cases) {
      const group = groupOf(groups, member);
      const output = findBlockOutput(model, group)!;
      expect(output).toBe(targets.find((t) => t.weightName === inspected)!.node.output![0]);
      const block = extractBlock(model, group, output);
      if (typeof block === "string") throw new Error(block);
      const chunks = chunkSequences(seqs, 64);
      expect(chunks).toHaveLength(2);
      const inputs = (await captureTensors(model, [group.input], chunks, root)).get(group.input)!;
      const weights = groupWeights(model, group);
      const ev = await BlockEvaluator.create(
        block,
        group,
        model.graph!.input!,
        chunks,
        inputs,
        weights.map((w) => w.data),
      );
      const searched = await awqSearchBy(weights, meanAbs(stats.get(group.input)!), spec, grid, (c) => ev.loss(c));
      await ev.release();

      // brute force: the whole decoder with the candidate weights, one sequence at a time
      const reference = await fullModelOutput(gqaFile, group, output, null);
      const brute: number[] = [];
      for (let i = 0; i < grid; i++) {
        const s = awqScales(meanAbs(stats.get(group.input)!), i / grid);
        const got = await fullModelOutput(
          gqaFile,
          group,
          output,
          weights.map((w) => scaledQuantized(w, s, spec)),
        );
        let sum = 0;
        let n = 0;
        got.forEach((o, j) => {
          for (let t = 0; t < o.length; t++) sum += (o[t] - reference[j][t]) ** 2;
          n += o.length;
        });
        brute.push(sum / n);
      }
      const best = brute.indexOf(Math.min(...brute));
      expect(searched.alpha).toBe(best / grid);
      searched.losses.forEach((l, i) => expect(Math.abs(l - brute[i]) / brute[i]).toBeLessThan(1e-3));
      // the grid is not flat: scaling changes the block's error
      expect(Math.max(...brute) / Math.min(...brute)).toBeGreaterThan(1.05);
    }
  });
});

describe("AWQ clipping", () => {
  it("never increases any group's output error, and lowers the total", () => {
    const rng = new Rng(4);
    const [rows, cols, tokens] = [24, 96, 300];
    const w = Float32Array.from({ length: rows * cols }, () => rng.normal() * 0.05);
    for (let r = 0; r < rows; r += 5) w[r * cols + ((7 * r) % cols)] *= 12; // a few outlier weights
    const x = Float64Array.from({ length: tokens * cols }, (_, i) => rng.normal() * (i % cols === 3 ? 6 : 1));
    const gram = new Float64Array(cols * cols);
    for (let t = 0; t < tokens; t++) {
      for (let i = 0; i < cols; i++) for (let j = 0; j < cols; j++) gram[i * cols + j] += x[t * cols + i] * x[t * cols + j];
    }
    for (const groupSize of [32, 0]) {
      const q = { bits: 3 as const, groupSize, symmetric: false };
      const r = autoClip(w, rows, cols, gram, q);
      const g = effectiveGroupSize(cols, groupSize);
      // group output errors measured directly on the tokens, with the project's quantizer
      const groupErrors = (wq: Float32Array) => {
        const errs: number[] = [];
        for (let row = 0; row < rows; row++) {
          for (let c0 = 0; c0 < cols; c0 += g) {
            let e = 0;
            for (let t = 0; t < tokens; t++) {
              let d = 0;
              for (let c = c0; c < c0 + g; c++) d += x[t * cols + c] * (wq[row * cols + c] - w[row * cols + c]);
              e += d * d;
            }
            errs.push(e);
          }
        }
        return errs;
      };
      const plain = groupErrors(dequantize(quantizeRtn(w, rows, cols, q)));
      const clipped = groupErrors(dequantize(quantizeRtn(r.weight, rows, cols, q)));
      clipped.forEach((e, i) => expect(e).toBeLessThanOrEqual(plain[i] * (1 + 1e-9) + 1e-12));
      const sum = (a: number[]) => a.reduce((s, v) => s + v, 0);
      expect(sum(clipped)).toBeLessThan(0.95 * sum(plain));
      expect(Math.abs(r.errorAfter - sum(clipped)) / sum(clipped)).toBeLessThan(1e-6);
      expect(Math.abs(r.errorBefore - sum(plain)) / sum(plain)).toBeLessThan(1e-6);
    }
  });

  it("skips q and k like the reference", () => {
    expect(skipsClip("layers.0.self_attn.q_proj.weight")).toBe(true);
    expect(skipsClip("layers.0.self_attn.k_proj.weight")).toBe(true);
    for (const p of ["self_attn.v_proj", "self_attn.o_proj", "mlp.gate_proj", "mlp.up_proj", "mlp.down_proj"]) {
      expect(skipsClip(`layers.3.${p}.weight`)).toBe(false);
    }
  });
});

describe("AWQ scale folding", () => {
  it("folds o_proj's scales into v_proj's output channels: float logits unchanged, no Mul inserted", async () => {
    const model = readModel(mhaFile);
    const mulsBefore = model.graph!.node!.filter((n) => n.opType === "Mul").length;
    const nodesBefore = model.graph!.node!.length;
    const { targets, groups } = decoderGroups(model);
    const rng = new Rng(8);
    const sites: string[] = [];
    for (const g of groups) {
      const site = findFoldSite(model, g, targets);
      sites.push(site.kind === "linear" ? `linear:${site.target.weightName.split(".").slice(-2, -1)[0]}` : site.kind);
      foldInputScale(
        model,
        g,
        Float32Array.from({ length: g.k }, () => Math.exp(rng.normal())),
        site,
      );
    }
    // per layer: q/k/v <- input norm, o_proj <- v_proj, gate/up <- post-attention norm, down <- up_proj
    expect(sites).toEqual(Array.from({ length: TINY.num_layers }, () => ["norm", "linear:v_proj", "norm", "linear:up_proj"]).flat());
    expect(model.graph!.node!.filter((n) => n.opType === "Mul")).toHaveLength(mulsBefore);
    expect(model.graph!.node!).toHaveLength(nodesBefore);
    const file = path.join(root, "mha-folded.onnx");
    fs.writeFileSync(file, encodeModel(model));
    for (const s of seqs.slice(0, 2)) expect(relativeMaxDiff(await sequenceLogits(mhaFile, s), await sequenceLogits(file, s))).toBeLessThan(1e-4);
  });

  it("finds no fold site for o_proj under grouped-query attention (v_proj narrower than o_proj's input)", () => {
    const model = readModel(gqaFile);
    const { targets, groups } = decoderGroups(model);
    expect(findFoldSite(model, groupOf(groups, "layers.0.self_attn.o_proj.weight"), targets).kind).toBe("mul");
  });
});

describe("AWQ end to end", () => {
  const reporter: JobReporter = { stage() {}, progress() {}, log() {} };
  let id = 0;
  async function run(methodId: string, params: Record<string, unknown>, modelDir: string, datasetFile: string, calibrationFile: string) {
    const workDir = path.join(root, `run-${++id}`);
    fs.mkdirSync(workDir);
    const spec = perplexityJob(pathModelRef("m", modelDir), { id: "text", file: datasetFile }, workDir, {
      runId: id,
      methodId,
      params,
      calibration: { id: "text-validation", task: "perplexity", file: calibrationFile, sha256: null },
    });
    return executeJob(spec, reporter, {
      quality: { maxExamples: 16, maxTokensPerText: 64 },
      bench: { promptLength: 8, decodeTokens: 2, warmup: 0, repeats: 1 },
    });
  }

  it("beats RTN at 3 bits on a small decoder", async () => {
    const modelDir = path.dirname(mhaFile);
    const rng = new Rng(3);
    const words = ["alpha", "beta", "gamma", "delta", "quant", "model", "bits", "group", "scale", "zero"];
    const write = (name: string) => {
      const file = path.join(root, name);
      fs.writeFileSync(
        file,
        Array.from({ length: 60 }, () => JSON.stringify({ text: Array.from({ length: 14 }, () => rng.pick(words)).join(" ") })).join("\n") + "\n",
      );
      return file;
    };
    const [datasetFile, calibrationFile] = [write("text.jsonl"), write("text-validation.jsonl")];
    const common = { bits: 3, group_size: 32, accuracy_level: 0 };
    const rtn = await run("quant.rtn", common, modelDir, datasetFile, calibrationFile);
    const awq = await run("quant.awq", { ...common, calib_samples: 4 }, modelDir, datasetFile, calibrationFile);
    const base = rtn.baselineMetrics!.perplexity;
    expect(awq.notes.join("\n")).toMatch(/searched on their block's output/);
    expect(Math.abs(awq.metrics.perplexity - base)).toBeLessThan(Math.abs(rtn.metrics.perplexity - base));
  });
});
