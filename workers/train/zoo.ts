/**
 * Building the zoo: the shared tokenizer, the evaluation splits, and per model the training run,
 * the ONNX export (workers/onnx/decoder-builder), the training curve and a card whose scores come
 * from the evaluation harness (workers/eval) on the exported model, the same code a baseline run
 * through the API executes.
 */
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { writeDatasets, writeLongDatasets, datasetLines, tokenizerCorpus, DATASETS, type DataRecipe } from "../data";
import { trainBpe } from "../tokenizer/train-bpe";
import { tokenizerFromJson, type Tokenizer } from "../tokenizer/tokenizer";
import { writeDecoder } from "../onnx/decoder-builder";
import { decoderParamCount, decoderWeightShapes, parseDecoderConfig } from "../onnx/decoder-config";
import { readModel, getInitializer } from "../onnx/model-io";
import { openDecoder } from "../eval/decoder-session";
import { evaluateDataset } from "../eval/quality";
import { train, type TrainSpec, type ValidationSet, type CurvePoint, type TrainResult } from "./trainer";
import { ZOO_SEED, TOKENIZER_VOCAB, RECALL_EVAL_PAIRS, EXAMPLES_PER_SPLIT } from "./zoo-specs";

export const RECIPE: DataRecipe = { seed: ZOO_SEED, recallPairs: RECALL_EVAL_PAIRS, examplesPerSplit: EXAMPLES_PER_SPLIT };
/** Shuffle seed of the card's evaluation; every split is scored whole, so the seed does not change a score. */
export const EVAL_SEED = 0;

export function buildTokenizer(zooDir: string): { tok: Tokenizer; json: Record<string, unknown>; file: string } {
  const { json } = trainBpe(tokenizerCorpus(ZOO_SEED, 3000), TOKENIZER_VOCAB);
  const file = path.join(zooDir, "tokenizer.json");
  fs.mkdirSync(zooDir, { recursive: true });
  fs.writeFileSync(file, JSON.stringify(json));
  return { tok: tokenizerFromJson(json), json, file };
}

export function buildDatasets(zooDir: string, tok?: Tokenizer): string[] {
  const files = writeDatasets(path.join(zooDir, "datasets"), RECIPE);
  // the long-range datasets count tokens with the zoo tokenizer
  if (tok) files.push(...writeLongDatasets(path.join(zooDir, "datasets"), RECIPE, (s) => tok.encode(s).length));
  return files;
}

/** A small slice of the validation splits for the curve (the card scores the whole splits). */
export function curveValidation(perTask = 64): ValidationSet {
  const ex = (name: string) =>
    datasetLines(name, "validation", RECIPE)
      .slice(0, perTask)
      .map((l) => ({ prompt: l.prompt as string, answer: l.answer as string }));
  return {
    texts: datasetLines("grammar", "validation", RECIPE)
      .slice(0, 32)
      .map((l) => l.text as string),
    exact: { recall: ex("recall"), arithmetic: ex("arithmetic"), copy: ex("copy") },
  };
}

export function writeCurve(dir: string, curve: CurvePoint[]): void {
  const evalKeys = [...new Set(curve.flatMap((p) => Object.keys(p.eval ?? {})))].sort();
  const header = ["step", "loss", "lr", "grad_norm", "tokens", "seconds", ...evalKeys];
  const lines = curve.map((p) => [p.step, p.loss, p.lr, p.gradNorm, p.tokens, p.seconds.toFixed(1), ...evalKeys.map((k) => p.eval?.[k] ?? "")].join(","));
  fs.writeFileSync(path.join(dir, "curve.csv"), [header.join(","), ...lines].join("\n") + "\n");
}

export function exportModel(dir: string, result: TrainResult, tokenizerJson: Record<string, unknown>) {
  return writeDecoder(dir, result.config, { weights: result.weights, tokenizer: tokenizerJson });
}

/** Harness scores of one exported model on the validation and test splits of every dataset. */
export async function scoreModel(modelFile: string, zooDir: string, tok: Tokenizer): Promise<Record<string, Record<string, Record<string, number>>>> {
  const decoder = await openDecoder(modelFile, "cpu");
  const out: Record<string, Record<string, Record<string, number>>> = {};
  try {
    for (const d of DATASETS)
      for (const split of ["validation", "test"] as const) {
        const file = path.join(zooDir, "datasets", `${d.name}-${split}.jsonl`);
        const r = await evaluateDataset(decoder, tok, { file, task: d.task }, EVAL_SEED, { maxExamples: EXAMPLES_PER_SPLIT, maxTokensPerText: 512 });
        (out[d.name] ??= {})[split] = r.metrics;
      }
  } finally {
    await decoder.release();
  }
  return out;
}

/**
 * Greedy next-token agreement of `a` with `b` on the grammar test texts: the fraction of positions
 * (end-of-text as first context, every token of the text) where both models' argmax is the same.
 */
export async function greedyAgreement(modelA: string, modelB: string, zooDir: string, tok: Tokenizer): Promise<{ agreement: number; positions: number }> {
  const texts = fs
    .readFileSync(path.join(zooDir, "datasets", "grammar-test.jsonl"), "utf8")
    .trim()
    .split("\n")
    .map((l) => (JSON.parse(l) as { text: string }).text);
  const a = await openDecoder(modelA, "cpu");
  const b = await openDecoder(modelB, "cpu");
  const V = a.shape.vocabSize;
  let same = 0;
  let n = 0;
  try {
    for (const t of texts) {
      const ids = [tok.eosId ?? 0, ...tok.encode(t)].slice(0, a.shape.maxPosition ?? 128);
      const la = await a.forwardFull(ids);
      const lb = await b.forwardFull(ids);
      for (let i = 0; i < ids.length; i++) {
        if (argmax(la, i * V, V) === argmax(lb, i * V, V)) same++;
        n++;
      }
    }
  } finally {
    await a.release();
    await b.release();
  }
  return { agreement: same / n, positions: n };
}

function argmax(x: Float32Array, off: number, V: number): number {
  let best = 0;
  for (let i = 1; i < V; i++) if (x[off + i] > x[off + best]) best = i;
  return best;
}

/** Runs a spec's continuation from the weights of its first schedule; curves and timings are merged. */
export async function continueRun(spec: TrainSpec, first: TrainResult, tok: Tokenizer, val: ValidationSet, log: (l: string) => void): Promise<TrainResult> {
  const c = spec.continuation;
  if (!c) return first;
  const second = await train(
    { ...spec, ...c, shortPhase: undefined, continuation: undefined, seed: spec.seed + 1 },
    tok,
    val,
    { log },
    { weights: first.weights, step: spec.steps, tokens: first.tokensSeen },
  );
  const t = (k: keyof TrainResult["timing"]) => first.timing[k] + second.timing[k];
  return {
    ...second,
    curve: [...first.curve, ...second.curve],
    timing: { ortRunMs: t("ortRunMs"), optimizerMs: t("optimizerMs"), dataMs: t("dataMs"), evalMs: t("evalMs"), totalMs: t("totalMs") },
  };
}

/**
 * The first schedule's result as written to `dir` by an earlier build (model.onnx, curve.csv and
 * card.json), so that a continuation can start without retraining it.
 */
export function loadWrittenRun(dir: string): TrainResult {
  const card = JSON.parse(fs.readFileSync(path.join(dir, "card.json"), "utf8"));
  const config = parseDecoderConfig(card.config);
  const model = readModel(path.join(dir, "model.onnx"));
  const weights = new Map<string, Float32Array>();
  for (const name of decoderWeightShapes(config).keys()) weights.set(name, getInitializer(model, name).data as Float32Array);
  const [header, ...rows] = fs.readFileSync(path.join(dir, "curve.csv"), "utf8").trim().split("\n");
  const cols = header.split(",");
  const curve: CurvePoint[] = rows.map((r) => {
    const v = r.split(",");
    const num = (k: string) => Number(v[cols.indexOf(k)]);
    const evalScores: Record<string, number> = {};
    for (const k of cols.slice(6)) if (v[cols.indexOf(k)] !== "") evalScores[k] = num(k);
    return {
      step: num("step"),
      loss: num("loss"),
      lr: num("lr"),
      gradNorm: num("grad_norm"),
      tokens: num("tokens"),
      seconds: num("seconds"),
      ...(Object.keys(evalScores).length ? { eval: evalScores } : {}),
    };
  });
  const split = card.training.time_split_seconds;
  return {
    config,
    weights,
    curve,
    timing: {
      ortRunMs: split.ort_training_step * 1000,
      optimizerMs: split.adamw_js * 1000,
      dataMs: split.data_generation * 1000,
      evalMs: split.curve_evaluation * 1000,
      totalMs: card.training.seconds * 1000,
    },
    tokensSeen: card.training.tokens,
    finalLoss: card.training.final_train_loss,
  };
}

export function machineConditions(): Record<string, unknown> {
  return {
    cpu: os.cpus()[0]?.model ?? "unknown",
    cores: os.cpus().length,
    load_average_1m_at_end: Number(os.loadavg()[0].toFixed(2)),
    node: process.version,
    platform: `${os.platform()} ${os.arch()}`,
  };
}

export function cardFor(spec: TrainSpec, result: TrainResult, scores: Record<string, unknown>, extra: Record<string, unknown>): Record<string, unknown> {
  const last = [...result.curve].reverse().find((p) => p.eval);
  return {
    name: spec.name,
    architecture: "decoder-only transformer (docs/decoder.md): RMSNorm, rotary, GQA-capable attention, SwiGLU",
    config: result.config,
    params: decoderParamCount(result.config),
    seed: spec.seed,
    tokenizer: { file: "tokenizer.json", type: "byte-level BPE, digits split individually", vocab_size: TOKENIZER_VOCAB },
    data: {
      generators: "workers/data (seeded, deterministic); splits disjoint by a hash of each item",
      mix: spec.mix,
      recall_eval_pairs: RECALL_EVAL_PAIRS,
      eval_examples_per_split: EXAMPLES_PER_SPLIT,
      loss: "every token on grammar rows; answer tokens and their closing newline on recall, arithmetic and copy rows; each row weighted equally",
    },
    training: {
      steps: spec.steps + (spec.continuation?.steps ?? 0),
      short_phase: spec.shortPhase ?? null,
      continuation: spec.continuation ? { ...spec.continuation, seed: spec.seed + 1, from_step: spec.steps, optimizer_state: "fresh" } : null,
      batch: spec.batch,
      seq: spec.seq,
      tokens: result.tokensSeen,
      optimizer: {
        name: "AdamW",
        lr: spec.lr,
        betas: [0.9, 0.95],
        weight_decay: spec.weightDecay,
        warmup_steps: spec.warmup,
        schedule: "linear warmup, cosine to 0.1x",
        grad_clip: spec.clip,
      },
      seconds: Number((result.timing.totalMs / 1000).toFixed(1)),
      time_split_seconds: {
        ort_training_step: Number((result.timing.ortRunMs / 1000).toFixed(1)),
        adamw_js: Number((result.timing.optimizerMs / 1000).toFixed(1)),
        data_generation: Number((result.timing.dataMs / 1000).toFixed(1)),
        curve_evaluation: Number((result.timing.evalMs / 1000).toFixed(1)),
      },
      final_train_loss: result.finalLoss,
      final_curve_eval: last?.eval ?? null,
      machine: machineConditions(),
      date: new Date().toISOString(),
    },
    scores: { harness: "workers/eval evaluateDataset, cpu runtime, every example of each split", eval_seed: EVAL_SEED, ...scores },
    ...extra,
  };
}
