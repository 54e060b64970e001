/**
 * `npm run zoo:train`: builds the model zoo from scratch — tokenizer, evaluation splits, then each
 * model (train, export, curve, card) — into zoo/. Deterministic: the same seed gives the same files.
 *
 *   npm run zoo:train                       # tokenizer, datasets and every model
 *   npm run zoo:train -- --only zoo-base    # one model (tokenizer and datasets are rebuilt too)
 *   npm run zoo:train -- --data-only        # tokenizer and datasets only
 *   npm run zoo:train -- --out /tmp/zoo --steps 50   # a quick trial somewhere else
 *   npm run zoo:train -- --only zoo-base --skip-data --no-finalize   # parallel runs share one data build
 *   npm run zoo:train -- --finalize-only    # agreement with zoo-base, added to the cards
 *   npm run zoo:train -- --only zoo-base --skip-data --resume   # only the continuation schedule
 *   npm run zoo:train -- --skip-data --rescore   # rerun the harness on every dataset into the cards
 */
import fs from "node:fs";
import path from "node:path";
import { ZOO } from "../workers/train/zoo-specs";
import {
  buildTokenizer,
  buildDatasets,
  curveValidation,
  writeCurve,
  exportModel,
  scoreModel,
  greedyAgreement,
  cardFor,
  continueRun,
  loadWrittenRun,
} from "../workers/train/zoo";
import { train, type TrainSpec } from "../workers/train/trainer";
import { tokenizerFromJson, type Tokenizer } from "../workers/tokenizer/tokenizer";

function arg(name: string): string | undefined {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 ? process.argv[i + 1] : undefined;
}

const out = path.resolve(arg("out") ?? path.join(process.cwd(), "zoo"));
const only = arg("only")?.split(",");
const stepsOverride = arg("steps") ? Number(arg("steps")) : undefined;
const dataOnly = process.argv.includes("--data-only");
const skipData = process.argv.includes("--skip-data") || process.argv.includes("--finalize-only");
const finalizeOnly = process.argv.includes("--finalize-only");
const finalize = !process.argv.includes("--no-finalize");
const resume = process.argv.includes("--resume");
const rescore = process.argv.includes("--rescore");
if (only) {
  const unknown = only.filter((n) => !ZOO.some((s) => s.name === n));
  if (unknown.length) {
    console.error(`unknown model(s): ${unknown.join(", ")}; the zoo has ${ZOO.map((s) => s.name).join(", ")}`);
    process.exit(2);
  }
}
if (stepsOverride !== undefined && !(Number.isInteger(stepsOverride) && stepsOverride > 0)) {
  console.error(`--steps must be a positive integer, got ${arg("steps")}`);
  process.exit(2);
}

const t0 = Date.now();
let tok: Tokenizer;
let json: Record<string, unknown>;
if (skipData) {
  const file = path.join(out, "tokenizer.json");
  if (!fs.existsSync(file)) throw new Error(`${file} is missing: build the data first (--data-only)`);
  json = JSON.parse(fs.readFileSync(file, "utf8"));
  tok = tokenizerFromJson(json);
} else {
  ({ tok, json } = buildTokenizer(out));
  console.log(`tokenizer: ${tok.vocabSize} tokens -> ${path.join(out, "tokenizer.json")}`);
  const files = buildDatasets(out, tok);
  console.log(`datasets: ${files.length} files -> ${path.join(out, "datasets")}`);
}
if (dataOnly) process.exit(0);

if (rescore) {
  // scores only: the harness over every dataset again, e.g. after a dataset was added
  for (const spec of ZOO.filter((s) => !only || only.includes(s.name))) {
    const dir = path.join(out, spec.name);
    const cardFile = path.join(dir, "card.json");
    if (!fs.existsSync(cardFile)) continue;
    const card = JSON.parse(fs.readFileSync(cardFile, "utf8"));
    const scores = await scoreModel(path.join(dir, "model.onnx"), out, tok);
    card.scores = { harness: card.scores?.harness, eval_seed: card.scores?.eval_seed, ...scores };
    fs.writeFileSync(cardFile, JSON.stringify(card, null, 2) + "\n");
    console.log(`[${spec.name}] rescored ${JSON.stringify(scores)}`);
  }
  process.exit(0);
}

const val = curveValidation();
const specs = finalizeOnly
  ? []
  : ZOO.filter((s) => !only || only.includes(s.name)).map(
      (s): TrainSpec =>
        stepsOverride
          ? {
              ...s,
              steps: stepsOverride,
              shortPhase: s.shortPhase && stepsOverride > 1 ? { ...s.shortPhase, steps: Math.floor(stepsOverride / 2) } : undefined,
              warmup: Math.min(s.warmup, Math.ceil(stepsOverride / 10)),
              evalEvery: Math.max(10, Math.ceil(stepsOverride / 4)),
            }
          : s,
    );
for (const spec of specs) {
  const dir = path.join(out, spec.name);
  fs.mkdirSync(dir, { recursive: true });
  console.log(`\n== ${spec.name}: ${spec.steps} steps, batch ${spec.batch} x ${spec.seq}`);
  // --resume: the first schedule is already on disk (model, curve, card); run only the continuation
  const first = resume && spec.continuation ? loadWrittenRun(dir) : await train(spec, tok, val, { log: (l) => console.log(l) });
  const result = await continueRun(spec, first, tok, val, (l) => console.log(l));
  writeCurve(dir, result.curve);
  const written = exportModel(dir, result, json);
  console.log(`[${spec.name}] exported ${written.files.model} (${written.bytes} bytes, ${written.params} params)`);
  const scores = await scoreModel(path.join(dir, "model.onnx"), out, tok);
  const card = cardFor(spec, result, scores, {
    files: { model: "model.onnx", tokenizer: "tokenizer.json", config: "config.json", curve: "curve.csv" },
    bytes: written.bytes,
  });
  fs.writeFileSync(path.join(dir, "card.json"), JSON.stringify(card, null, 2) + "\n");
  console.log(`[${spec.name}] scores ${JSON.stringify(scores)}`);
}

// Agreement with the base model needs both models on disk; it is added to both cards afterwards.
const base = path.join(out, "zoo-base", "model.onnx");
if (finalize && fs.existsSync(base)) {
  const baseCardFile = path.join(out, "zoo-base", "card.json");
  const baseCard = JSON.parse(fs.readFileSync(baseCardFile, "utf8"));
  for (const spec of ZOO) {
    if (spec.name === "zoo-base") continue;
    const model = path.join(out, spec.name, "model.onnx");
    const cardFile = path.join(out, spec.name, "card.json");
    if (!fs.existsSync(model) || !fs.existsSync(cardFile)) continue;
    const agree = await greedyAgreement(model, base, out, tok);
    const card = JSON.parse(fs.readFileSync(cardFile, "utf8"));
    card.agreement_with_base = { ...agree, text: "grammar-test", measure: "greedy next-token agreement, teacher-forced on the text" };
    fs.writeFileSync(cardFile, JSON.stringify(card, null, 2) + "\n");
    (baseCard.agreement_with ??= {})[spec.name] = card.agreement_with_base;
    console.log(`[${spec.name}] greedy agreement with zoo-base: ${agree.agreement.toFixed(3)} over ${agree.positions} positions`);
  }
  fs.writeFileSync(baseCardFile, JSON.stringify(baseCard, null, 2) + "\n");
}
console.log(`\nzoo built in ${((Date.now() - t0) / 1000).toFixed(0)} s -> ${out}`);
