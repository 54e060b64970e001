/**
 * `npm run zoo:train-long`: trains zoo-long (workers/train/zoo-specs.ts) from zoo-base's weights
 * and writes zoo/zoo-long (model, config, curve, card). The card scores every long-range dataset by
 * length (passkey and multi-query recall at 256/512/1024 tokens, grammar-long perplexity).
 *
 *   npm run zoo:train-long -- --steps 900            # a fixed step count
 *   npm run zoo:train-long -- --stage 2 --steps 1200 # stage 2, continued from zoo/zoo-long (docs/zoo.md)
 *   npm run zoo:train-long -- --stage 2 --base DIR --dest DIR --weight-decay 1 --no-short-phase --steps 3000
 *                                                    # an experiment continued from DIR, written to DIR
 *   npm run zoo:train-long -- --data-only            # (re)write the long datasets into zoo/datasets
 *   npm run zoo:train-long -- --score-only           # rescore an exported zoo-long into its card
 *   ZOO_TRAIN_THREADS=1 npm run zoo:train-long -- --steps 900   # one onnxruntime thread
 */
import fs from "node:fs";
import path from "node:path";
import { zooLongSpec, zooLongStage2Spec } from "../workers/train/zoo-specs";
import { RECIPE, cardFor, exportModel, loadWrittenRun, writeCurve, EVAL_SEED } from "../workers/train/zoo";
import { train, type ValidationSet } from "../workers/train/trainer";
import { tokenizerFromJson } from "../workers/tokenizer/tokenizer";
import { LONG_DATASETS, datasetLines, longDatasetLines, writeLongDatasets } from "../workers/data";
import { openDecoder } from "../workers/eval/decoder-session";
import { evaluateDataset } from "../workers/eval/quality";

function arg(name: string): string | undefined {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 ? process.argv[i + 1] : undefined;
}

const zoo = path.resolve(arg("out") ?? path.join(process.cwd(), "zoo"));
const stage = Number(arg("stage") ?? 1);
if (stage !== 1 && stage !== 2) {
  console.error(`--stage must be 1 or 2, got ${arg("stage")}`);
  process.exit(2);
}
const baseDir = path.resolve(arg("base") ?? path.join(zoo, stage === 1 ? "zoo-base" : "zoo-long"));
const steps = Number(arg("steps") ?? 900);
if (!(Number.isInteger(steps) && steps >= 4)) {
  console.error(`--steps must be an integer >= 4, got ${arg("steps")}`);
  process.exit(2);
}
const json = JSON.parse(fs.readFileSync(path.join(zoo, "tokenizer.json"), "utf8"));
const tok = tokenizerFromJson(json);
const count = (s: string) => tok.encode(s).length;
const dsDir = path.join(zoo, "datasets");

if (process.argv.includes("--data-only")) {
  const files = writeLongDatasets(dsDir, RECIPE, count);
  console.log(`long datasets: ${files.length} files -> ${dsDir}`);
  process.exit(0);
}

/** Harness scores of the long datasets, keyed by dataset and split. */
async function scoreLong(modelFile: string): Promise<Record<string, Record<string, Record<string, number>>>> {
  const decoder = await openDecoder(modelFile, "cpu");
  const out: Record<string, Record<string, Record<string, number>>> = {};
  try {
    for (const d of LONG_DATASETS)
      for (const split of ["validation", "test"] as const) {
        const file = path.join(dsDir, `${d.name}-${split}.jsonl`);
        const r = await evaluateDataset(decoder, tok, { file, task: d.task }, EVAL_SEED, { maxExamples: 200, maxTokensPerText: 1024 });
        (out[d.name] ??= {})[split] = r.metrics;
        console.log(`[zoo-long] ${d.name}/${split} ${JSON.stringify(r.metrics)}`);
      }
  } finally {
    await decoder.release();
  }
  return out;
}

const dir = path.resolve(arg("dest") ?? path.join(zoo, "zoo-long"));
if (process.argv.includes("--score-only")) {
  const cardFile = path.join(dir, "card.json");
  const card = JSON.parse(fs.readFileSync(cardFile, "utf8"));
  card.scores = { ...card.scores, ...(await scoreLong(path.join(dir, "model.onnx"))) };
  fs.writeFileSync(cardFile, JSON.stringify(card, null, 2) + "\n");
  process.exit(0);
}

const staged = stage === 1 ? zooLongSpec(steps) : zooLongStage2Spec(steps);
// experiment overrides: --weight-decay W, --no-short-phase (every step on 1024-token rows)
const wd = arg("weight-decay");
if (wd !== undefined && !(Number(wd) >= 0)) {
  console.error(`--weight-decay must be a number >= 0, got ${wd}`);
  process.exit(2);
}
const spec = {
  ...staged,
  ...(wd !== undefined ? { weightDecay: Number(wd) } : {}),
  ...(process.argv.includes("--no-short-phase") ? { shortPhase: undefined } : {}),
};
const exact = (name: string, n: number) =>
  longDatasetLines(name, "validation", RECIPE, count)
    .slice(0, n)
    .map((l) => ({ prompt: l.prompt as string, answer: l.answer as string }));
const val: ValidationSet = {
  texts: datasetLines("grammar", "validation", RECIPE)
    .slice(0, 16)
    .map((l) => l.text as string),
  exact: {
    recall: datasetLines("recall", "validation", RECIPE)
      .slice(0, 16)
      .map((l) => ({ prompt: l.prompt as string, answer: l.answer as string })),
    "passkey-256": exact("passkey-256", 16),
    "passkey-1024": exact("passkey-1024", 16),
    "mqar-1024": exact("mqar-1024", 16),
  },
};
const base = loadWrittenRun(baseDir);
fs.mkdirSync(dir, { recursive: true });
console.log(`== zoo-long: ${spec.steps} steps from ${path.basename(baseDir)} (short phase ${spec.shortPhase?.steps} x ${spec.shortPhase?.seq})`);
// stage 2 carries stage 1's curve, step count and tokens on; stage 1 starts its own count from zoo-base
const start =
  stage === 1 ? { weights: base.weights, step: 0, tokens: 0 } : { weights: base.weights, step: base.curve.at(-1)?.step ?? 0, tokens: base.tokensSeen };
const result = await train(spec, tok, val, { log: (l) => console.log(l) }, start);
if (stage === 2) result.curve = [...base.curve, ...result.curve];
writeCurve(dir, result.curve);
const written = exportModel(dir, result, json);
console.log(`[zoo-long] exported ${written.files.model} (${written.bytes} bytes)`);
const card = cardFor(spec, result, await scoreLong(path.join(dir, "model.onnx")), {
  files: { model: "model.onnx", tokenizer: "tokenizer.json", config: "config.json", curve: "curve.csv" },
  bytes: written.bytes,
  continued_from:
    stage === 1
      ? {
          model: path.basename(baseDir),
          note: "weights of the base model after its own training (its steps and tokens are not counted here); fresh AdamW state",
        }
      : {
          model: `${path.basename(baseDir)} (stage 1)`,
          note: "stage 1's final weights, fresh AdamW state; tokens count both stages, steps and seconds this stage only",
          stage1: (({ scores: _s, ...rest }) => rest)(JSON.parse(fs.readFileSync(path.join(baseDir, "card.json"), "utf8"))),
        },
});
fs.writeFileSync(path.join(dir, "card.json"), JSON.stringify(card, null, 2) + "\n");
console.log(`[zoo-long] card written`);
