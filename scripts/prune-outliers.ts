/**
 * Outlier input features of a decoder's linears, the property Wanda's gain rests on
 * (docs/BENCHMARKS.md, Pruning): per linear input, the root mean square of every channel over
 * calibration tokens, and the largest channel's RMS over the median channel's.
 *
 *   npx tsx scripts/prune-outliers.ts [--model zoo/zoo-base] [--calibration zoo/datasets/grammar-validation.jsonl]
 *                                     [--samples 32] [--seq 128]
 */
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { parseArgs } from "node:util";
import { captureActivations } from "../workers/methods/calibration";
import { isOutputHead } from "../workers/methods/quantization/driver";
import { quantizableLinears } from "../workers/methods/quantization/emit";
import { readModel } from "../workers/onnx/model-io";
import { loadTokenizer } from "../workers/tokenizer/tokenizer";
import { exampleText, readDataset } from "../workers/eval/dataset";
import { calibrationFrom } from "../workers/execute";
import { gramDiagonal } from "../workers/methods/pruning/wanda";

const { values } = parseArgs({
  options: {
    model: { type: "string", default: "zoo/zoo-base" },
    calibration: { type: "string", default: "zoo/datasets/grammar-validation.jsonl" },
    samples: { type: "string", default: "32" },
    seq: { type: "string", default: "128" },
  },
});
const dir = path.resolve(values.model ?? "zoo/zoo-base");
const modelPath = path.join(dir, "model.onnx");
const samples = Number(values.samples);
const seq = Number(values.seq);
if (!(Number.isInteger(samples) && samples >= 1)) throw new Error(`--samples must be a positive integer, got ${values.samples}`);
if (!(Number.isInteger(seq) && seq >= 2)) throw new Error(`--seq must be an integer >= 2, got ${values.seq}`);
const tok = loadTokenizer(path.join(dir, "tokenizer.json"));
const texts = readDataset({ file: path.resolve(values.calibration ?? ""), task: "perplexity" }).examples.map(exampleText);
const sequences = calibrationFrom(texts, tok, samples, seq).batches;
const model = readModel(modelPath);
const targets = quantizableLinears(model).targets.filter((t) => !isOutputHead(model, t));
const taps = [...new Map(targets.map((t) => [t.input, { name: t.input, k: t.k }])).values()];
const scratch = fs.mkdtempSync(path.join(os.tmpdir(), "outliers-"));
const stats = await captureActivations(modelPath, taps, sequences, { gram: true, scratchDir: scratch });
fs.rmSync(scratch, { recursive: true, force: true });
console.log(`${path.relative(process.cwd(), modelPath)}: ${sequences.length} windows of ${seq} tokens`);
console.log("| linears | input | K | max / median channel RMS | top-1% channels' share of Σx² |");
console.log("|---|---|---:|---:|---:|");
for (const tap of taps) {
  const st = stats.get(tap.name);
  if (!st?.gram) continue;
  const k = tap.k;
  const ms = gramDiagonal(st.gram, k).map((x) => x / st.tokens);
  const rms = Array.from(ms, Math.sqrt).sort((a, b) => a - b);
  const sorted = Array.from(ms).sort((a, b) => b - a);
  const top = Math.max(1, Math.round(k / 100));
  const share = sorted.slice(0, top).reduce((a, b) => a + b, 0) / sorted.reduce((a, b) => a + b, 0);
  const users = targets.filter((t) => t.input === tap.name).map((t) => t.weightName.replace(/\.weight$/, ""));
  console.log(`| ${users.join(", ")} | ${tap.name} | ${k} | ${(rms[k - 1] / rms[Math.floor(k / 2)]).toFixed(1)} | ${(100 * share).toFixed(1)}% |`);
}
