/**
 * A function-preserving rescaling of a trained decoder that gives it outlier input features, as
 * billion-parameter models have them (docs/BENCHMARKS.md, Pruning). In every layer, `--channels`
 * input channels of each linear group are multiplied by `--alpha` where they are produced and the
 * matching weight rows divided by it:
 *
 *   input_layernorm gain x alpha           -> q/k/v rows / alpha
 *   post_attention_layernorm gain x alpha  -> gate/up rows / alpha
 *   v_proj output column x alpha           -> o_proj row / alpha   (attention is linear in V)
 *   up_proj output column x alpha          -> down_proj row / alpha (SwiGLU is linear in up)
 *
 * The model computes the same function (up to float rounding: the script checks the logits of a
 * few sequences), but those channels now carry activations alpha times larger through weights
 * alpha times smaller: the regime of LLM outlier features, where |W| alone misjudges a weight.
 * The channels are the ones with the largest input RMS on the calibration text already.
 *
 *   npx tsx scripts/prune-outlier-model.ts [--model zoo/zoo-base] [--out DIR] [--alpha 20] [--channels 2]
 */
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { parseArgs } from "node:util";
import { captureActivations, sequenceLogits } from "../workers/methods/calibration";
import { parseDecoderConfig } from "../workers/onnx/decoder-config";
import { getInitializer, readModel, setInitializer, writeModel } from "../workers/onnx/model-io";
import { loadTokenizer } from "../workers/tokenizer/tokenizer";
import { exampleText, readDataset } from "../workers/eval/dataset";
import { calibrationFrom } from "../workers/execute";
import { gramDiagonal } from "../workers/methods/pruning/wanda";

const { values } = parseArgs({
  options: {
    model: { type: "string", default: "zoo/zoo-base" },
    out: { type: "string" },
    alpha: { type: "string", default: "20" },
    channels: { type: "string", default: "2" },
    calibration: { type: "string", default: "zoo/datasets/grammar-validation.jsonl" },
  },
});
const dir = path.resolve(values.model ?? "zoo/zoo-base");
const out = path.resolve(values.out ?? path.join(os.tmpdir(), `${path.basename(dir)}-outliers`));
const alpha = Number(values.alpha);
const channels = Number(values.channels);
if (!(alpha > 0)) throw new Error(`--alpha must be a positive number, got ${values.alpha}`);
if (!(Number.isInteger(channels) && channels >= 1)) throw new Error(`--channels must be a positive integer, got ${values.channels}`);
const cfg = parseDecoderConfig(JSON.parse(fs.readFileSync(path.join(dir, "config.json"), "utf8")));
if (cfg.num_kv_heads !== cfg.num_heads)
  throw new Error("this rescaling pairs v_proj columns with o_proj rows one to one: a model without grouped-query attention only");
const src = path.join(dir, "model.onnx");
const model = readModel(src);
const tok = loadTokenizer(path.join(dir, "tokenizer.json"));
const texts = readDataset({ file: path.resolve(values.calibration ?? ""), task: "perplexity" }).examples.map(exampleText);
const sequences = calibrationFrom(texts, tok, 16, 128).batches;

// the channels with the largest RMS at each group's input, on the calibration text
const inputs = (l: number) => ({
  attn: `/layers.${l}/input_layernorm/out`,
  mlp: `/layers.${l}/post_attention_layernorm/out`,
  merged: `/layers.${l}/attn/merged`,
  act: `/layers.${l}/mlp/act`,
});
const H = cfg.hidden_size;
const I = cfg.intermediate_size;
const taps = Array.from({ length: cfg.num_layers }, (_, l) => inputs(l)).flatMap((t) => [
  { name: t.attn, k: H },
  { name: t.mlp, k: H },
  { name: t.merged, k: H },
  { name: t.act, k: I },
]);
const scratch = fs.mkdtempSync(path.join(os.tmpdir(), "outlier-model-"));
const stats = await captureActivations(src, taps, sequences, { gram: true, scratchDir: scratch });
fs.rmSync(scratch, { recursive: true, force: true });
const top = (name: string, k: number) => {
  const g = stats.get(name)?.gram;
  if (!g) throw new Error(`no statistics for ${name}`);
  const sq = gramDiagonal(g, k);
  return Array.from({ length: k }, (_, j) => j)
    .sort((a, b) => sq[b] - sq[a])
    .slice(0, channels);
};

// getInitializer decodes a copy: each weight is decoded once, changed, and set back at the end
const edited = new Map<string, { dims: number[]; data: Float32Array }>();
const f32 = (name: string) => {
  let e = edited.get(name);
  if (!e) {
    const init = getInitializer(model, name);
    e = { dims: init.dims.map(Number), data: init.data as Float32Array };
    edited.set(name, e);
  }
  return e.data;
};
const scaleRows = (name: string, n: number, rows: number[], by: number) => {
  const w = f32(name);
  for (const r of rows) for (let j = 0; j < n; j++) w[r * n + j] *= by;
};
const scaleCols = (name: string, n: number, cols: number[], by: number) => {
  const w = f32(name);
  const k = w.length / n;
  for (let r = 0; r < k; r++) for (const c of cols) w[r * n + c] *= by;
};
const chosen: Record<string, number[]>[] = [];
for (let l = 0; l < cfg.num_layers; l++) {
  const p = `layers.${l}`;
  const t = inputs(l);
  const c = { attn: top(t.attn, H), mlp: top(t.mlp, H), merged: top(t.merged, H), act: top(t.act, I) };
  chosen.push(c);
  const qkvN = { q: cfg.num_heads * (H / cfg.num_heads), k: cfg.num_kv_heads * (H / cfg.num_heads), v: cfg.num_kv_heads * (H / cfg.num_heads) };
  for (const i of c.attn) f32(`${p}.input_layernorm.weight`)[i] *= alpha;
  scaleRows(`${p}.self_attn.q_proj.weight`, qkvN.q, c.attn, 1 / alpha);
  scaleRows(`${p}.self_attn.k_proj.weight`, qkvN.k, c.attn, 1 / alpha);
  scaleRows(`${p}.self_attn.v_proj.weight`, qkvN.v, c.attn, 1 / alpha);
  for (const i of c.mlp) f32(`${p}.post_attention_layernorm.weight`)[i] *= alpha;
  scaleRows(`${p}.mlp.gate_proj.weight`, I, c.mlp, 1 / alpha);
  scaleRows(`${p}.mlp.up_proj.weight`, I, c.mlp, 1 / alpha);
  scaleCols(`${p}.self_attn.v_proj.weight`, qkvN.v, c.merged, alpha);
  scaleRows(`${p}.self_attn.o_proj.weight`, H, c.merged, 1 / alpha);
  scaleCols(`${p}.mlp.up_proj.weight`, I, c.act, alpha);
  scaleRows(`${p}.mlp.down_proj.weight`, H, c.act, 1 / alpha);
}
for (const [name, e] of edited) setInitializer(model, name, e.dims, e.data);
fs.mkdirSync(out, { recursive: true });
writeModel(model, path.join(out, "model.onnx"));
for (const f of ["config.json", "tokenizer.json"]) fs.copyFileSync(path.join(dir, f), path.join(out, f));
const card = JSON.parse(fs.readFileSync(path.join(dir, "card.json"), "utf8"));
card.name = `${card.name}-outliers`;
card.rescaled = {
  from: path.basename(dir),
  alpha,
  channels_per_group: channels,
  channels: chosen,
  note: "function-preserving rescaling (scripts/prune-outlier-model.ts)",
};
fs.writeFileSync(path.join(out, "card.json"), JSON.stringify(card, null, 2));

// same function: the logits of a few calibration sequences before and after
let maxDiff = 0;
let maxAbs = 0;
for (const seq of sequences.slice(0, 3)) {
  const a = await sequenceLogits(src, seq);
  const b = await sequenceLogits(path.join(out, "model.onnx"), seq);
  for (let i = 0; i < a.length; i++) {
    maxDiff = Math.max(maxDiff, Math.abs(a[i] - b[i]));
    maxAbs = Math.max(maxAbs, Math.abs(a[i]));
  }
}
console.log(
  `${path.relative(process.cwd(), out)}: alpha ${alpha}, ${channels} channels per group and layer; logits max |diff| ${maxDiff.toExponential(2)} (max |logit| ${maxAbs.toFixed(1)})`,
);
if (maxDiff > 1e-2 * Math.max(1, maxAbs)) throw new Error("the rescaled model does not compute the same function");
