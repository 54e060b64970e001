/**
 * Speculative decoding benchmark (spec.draft, spec.prompt-lookup) on the cpu runtime, with the code
 * the worker's executors run (workers/methods/speculative):
 *
 * 1. Zoo pairs: zoo-draft -> zoo-base and zoo-small -> zoo-base on grammar and copy prompts, and
 *    prompt lookup (ngram 3) on copy and recall, gamma in {1, 2, 4, 8}, greedy verification. Every
 *    prompt is decoded plainly and speculatively back to back (order alternating) and both are timed
 *    end to end; the speculative output must equal the plain greedy output token for token (exit
 *    code 1 otherwise). Printed: acceptance rate, α (accepted / (accepted + rejections)), mean
 *    tokens per target call, measured speedup with its paired 95% interval, the draft/target cost
 *    ratio c and Leviathan et al.'s predicted speedup (1 - α^(γ+1)) / (1 - α) / (γc + 1).
 * 2. Shape models (random weights, speed only): the target's per-call cost of verifying 1..9 tokens
 *    with a cache of `--context` tokens, a 125M-class draft with the target's vocabulary (hidden 768,
 *    12 layers) and a self-speculative draft (the target's dims with only 2 layers), their cost ratio
 *    c, and the speedup PROJECTED for the α measured on the zoo pairs, both by Leviathan's formula
 *    and from the measured verification costs: E[tokens per call] / (γc + t(γ + 1) / t(1)).
 *
 *   npm run bench:spec -- [--prompts N] [--max-new N] [--shape shape-1b|shape-125m] [--context N]
 *                         [--repeats N] [--data-dir DIR] [--skip-zoo] [--skip-shape] [--json FILE]
 *
 * Shape models are generated into the data dir's shape cache on first use (default
 * $FRONTIER_DATA_DIR or ./data, as a worker does); the drafts into a temporary directory.
 */
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { performance } from "node:perf_hooks";
import { parseArgs } from "node:util";
import { median } from "../workers/eval/bench";
import { seededRng } from "../workers/eval/dataset";
import { argmax, type DecoderSession, openDecoder } from "../workers/eval/decoder-session";
import { writeDecoder } from "../workers/onnx/decoder-builder";
import { materializeShapeModel } from "../workers/onnx/shape-cache";
import { shapeModelConfig } from "../workers/onnx/shapes";
import { loadTokenizer } from "../workers/tokenizer/tokenizer";
import { draftStepTimer } from "../workers/methods/speculative/draft";
import { DraftModelGenerator, PromptLookupGenerator } from "../workers/methods/speculative/candidates";
import { expectedTokensPerCall, predictedSpeedup } from "../workers/methods/speculative/loop";
import { promptLookup } from "../workers/methods/speculative/lookup";
import { DEFAULT_SPEC_RUN, generationPrompts, measureSpeculative, type SpecMethod, specMetrics } from "../workers/methods/speculative/run";

const { values } = parseArgs({
  options: {
    prompts: { type: "string", default: "16" },
    "max-new": { type: "string", default: "32" },
    shape: { type: "string", default: "shape-1b" },
    context: { type: "string", default: "128" },
    repeats: { type: "string", default: "5" },
    "data-dir": { type: "string" },
    "skip-zoo": { type: "boolean", default: false },
    "skip-shape": { type: "boolean", default: false },
    json: { type: "string" },
  },
});
const int = (name: string, v: string | undefined, min: number) => {
  const n = Number(v);
  if (!Number.isInteger(n) || n < min) throw new Error(`--${name} must be an integer >= ${min}, got "${v}"`);
  return n;
};
const PROMPTS = int("prompts", values.prompts, 2);
const MAX_NEW = int("max-new", values["max-new"], 2);
const CONTEXT = int("context", values.context, 1);
const REPEATS = int("repeats", values.repeats, 1);
const DATA_DIR = path.resolve(values["data-dir"] ?? process.env.FRONTIER_DATA_DIR ?? "data");
const ZOO = path.resolve("zoo");
const GAMMAS = [1, 2, 4, 8];
const SEED = 1;

const f = (x: number | undefined, d = 2) => (x === undefined || !Number.isFinite(x) ? "—" : x.toFixed(d));
const log = (s: string) => process.stdout.write(`${s}\n`);

interface ZooRow {
  method: string;
  task: string;
  gamma: number;
  metrics: Record<string, number>;
  mismatches: number;
  prompts: number;
}

const TASK = { grammar: "perplexity", copy: "exact-match", recall: "recall" } as const;

async function zooTable(): Promise<ZooRow[]> {
  const tok = loadTokenizer(path.join(ZOO, "tokenizer.json"));
  const target = await openDecoder(path.join(ZOO, "zoo-base", "model.onnx"), "cpu");
  const opts = { ...DEFAULT_SPEC_RUN, prompts: PROMPTS, maxNew: MAX_NEW };
  const prompts = (task: keyof typeof TASK) =>
    generationPrompts({ file: path.join(ZOO, "datasets", `${task}-test.jsonl`), task: TASK[task] }, tok, SEED, PROMPTS, {
      maxNew: MAX_NEW,
      maxPosition: target.shape.maxPosition,
      textPromptTokens: opts.textPromptTokens,
    });
  const rows: ZooRow[] = [];
  const runs: { method: string; task: keyof typeof TASK; make: (gamma: number) => SpecMethod }[] = [];
  for (const draftId of ["zoo-draft", "zoo-small"]) {
    const draft = await openDecoder(path.join(ZOO, draftId, "model.onnx"), "cpu");
    const make = (gamma: number): SpecMethod => ({
      gamma,
      verification: "greedy",
      temperature: 1,
      generator: new DraftModelGenerator(draft),
      timeDraftStep: draftStepTimer(draft),
      describe: draftId,
    });
    for (const task of ["grammar", "copy"] as const) runs.push({ method: `${draftId} -> zoo-base`, task, make });
  }
  for (const task of ["copy", "recall"] as const) {
    runs.push({
      method: "prompt lookup (ngram 3)",
      task,
      make: (gamma) => ({
        gamma,
        verification: "greedy",
        temperature: 1,
        generator: new PromptLookupGenerator(3),
        timeDraftStep: async (seq) => {
          const t0 = performance.now();
          promptLookup(seq, 3, gamma);
          return performance.now() - t0;
        },
        describe: "prompt lookup",
      }),
    });
  }
  for (const r of runs) {
    const ps = prompts(r.task);
    for (const gamma of GAMMAS) {
      const m = await measureSpeculative(target, r.make(gamma), ps, opts, seededRng(SEED), new Set());
      const { metrics } = specMetrics(m, gamma, SEED);
      rows.push({ method: r.method, task: r.task, gamma, metrics, mismatches: m.mismatches, prompts: m.prompts });
      log(
        `  ${r.method} on ${r.task}, gamma ${gamma}: alpha ${f(metrics.spec_alpha)}, speedup ${f(metrics.speedup)} [${f(metrics.speedup_lo)}, ${f(metrics.speedup_hi)}]` +
          `${m.mismatches ? `, ${m.mismatches} OUTPUT MISMATCHES` : ""}`,
      );
    }
  }
  return rows;
}

/** A random-weight decoder with `config` in a temp dir (speed only). */
function writeDraft(dir: string, config: Parameters<typeof writeDecoder>[1]): string {
  writeDecoder(dir, config, { seed: 7 });
  return path.join(dir, "model.onnx");
}

/** ms of one forward of `k` new tokens after a cache of `context` tokens (median over `repeats`, interleaved over k). */
async function verifyCosts(d: DecoderSession, context: number, ks: number[], repeats: number): Promise<Map<number, number>> {
  const rng = seededRng(SEED);
  const V = d.shape.vocabSize;
  const prompt = Array.from({ length: context }, () => Math.floor(rng() * V));
  await d.prefill(prompt);
  const samples = new Map<number, number[]>(ks.map((k) => [k, []]));
  for (let r = -1; r < repeats; r++) {
    for (const k of ks) {
      const ids = Array.from({ length: k }, () => Math.floor(rng() * V));
      const t0 = performance.now();
      const logits = await d.extend(ids);
      argmax(logits.subarray(logits.length - V));
      const ms = performance.now() - t0;
      await d.truncate(context);
      if (r >= 0) samples.get(k)?.push(ms);
    }
  }
  return new Map(ks.map((k) => [k, median(samples.get(k) ?? [])]));
}

interface ShapeResult {
  target: string;
  context: number;
  verifyMs: Record<number, number>;
  drafts: { name: string; stepMs: number; targetStepMs: number; c: number }[];
}

async function shapeTable(): Promise<ShapeResult> {
  const name = values.shape ?? "shape-1b";
  log(`\n${name}: generating or reusing the shape model in ${DATA_DIR} ...`);
  const m = await materializeShapeModel({ id: name, sha256: null, card: null }, DATA_DIR, (l) => log(`  ${l}`));
  const cfg = shapeModelConfig(name);
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), "bench-spec-"));
  try {
    const draftCfgs = [
      {
        name: "125M-class draft (hidden 768, 12 layers, 12 heads)",
        config: { ...cfg, hidden_size: 768, num_layers: 12, num_heads: 12, num_kv_heads: 12, intermediate_size: 2048, tie_embeddings: false },
      },
      { name: `self-draft: ${name} with 2 of ${cfg.num_layers} layers`, config: { ...cfg, num_layers: 2 } },
    ];
    const target = await openDecoder(m.modelPath, "cpu");
    const ks = Array.from({ length: Math.max(...GAMMAS) + 1 }, (_, i) => i + 1);
    log(`  timing verification of 1..${ks.length} tokens after ${CONTEXT} cached tokens (${REPEATS} repeats) ...`);
    const verify = await verifyCosts(target, CONTEXT, ks, REPEATS);
    const drafts: ShapeResult["drafts"] = [];
    for (const [i, d] of draftCfgs.entries()) {
      const file = writeDraft(path.join(tmp, `draft-${i}`), d.config);
      const draft = await openDecoder(file, "cpu");
      if (draft.shape.vocabSize !== target.shape.vocabSize) throw new Error(`${d.name}: vocabulary differs from the target's`);
      // Draft step and target step timed alternately, so load falls on both alike.
      const dm: number[] = [];
      const tm: number[] = [];
      for (let r = 0; r < REPEATS + 1; r++) {
        const dd = await verifyCosts(draft, CONTEXT, [1], 1);
        const tt = await verifyCosts(target, CONTEXT, [1], 1);
        if (r > 0) {
          dm.push(dd.get(1) ?? NaN);
          tm.push(tt.get(1) ?? NaN);
        }
      }
      drafts.push({ name: d.name, stepMs: median(dm), targetStepMs: median(tm), c: median(dm) / median(tm) });
      await draft.release();
      log(`  ${d.name}: step ${f(median(dm))} ms vs target ${f(median(tm))} ms, c = ${f(median(dm) / median(tm), 3)}`);
    }
    await target.release();
    return { target: name, context: CONTEXT, verifyMs: Object.fromEntries(verify), drafts };
  } finally {
    fs.rmSync(tmp, { recursive: true, force: true });
  }
}

async function main() {
  log(`bench:spec — cpu, ${os.cpus().length} cores (${os.cpus()[0]?.model ?? "?"}), node ${process.version}, ${new Date().toISOString()}`);
  let zoo: ZooRow[] = [];
  if (!values["skip-zoo"]) {
    log(`\nZoo: ${PROMPTS} prompts (+${DEFAULT_SPEC_RUN.warmup} warmup) x ${MAX_NEW} new tokens, greedy, seed ${SEED}`);
    zoo = await zooTable();
    log("\n| method | task | γ | acceptance rate | α | mean tokens / call | measured speedup [95% CI] | c | predicted speedup | output = greedy |");
    log("| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |");
    for (const r of zoo) {
      const m = r.metrics;
      log(
        `| ${r.method} | ${r.task} | ${r.gamma} | ${f(m.acceptance_rate)} | ${f(m.spec_alpha)} | ${f(m.mean_accepted_tokens)} | ` +
          `${f(m.speedup)} [${f(m.speedup_lo)}, ${f(m.speedup_hi)}] | ${f(m.draft_cost_ratio, 3)} | ${f(m.predicted_speedup)} | ${r.mismatches === 0 ? "yes" : `NO (${r.mismatches})`} |`,
      );
    }
  }
  let shape: ShapeResult | null = null;
  if (!values["skip-shape"]) {
    shape = await shapeTable();
    log(`\nVerification cost on ${shape.target} (random weights), ${shape.context} cached tokens, median of ${REPEATS}:`);
    log("\n| tokens verified in one call | ms | × one-token step |");
    log("| --- | --- | --- |");
    const t1 = shape.verifyMs[1];
    for (const [k, ms] of Object.entries(shape.verifyMs)) log(`| ${k} | ${f(ms, 1)} | ${f(ms / t1)} |`);
    log("\n| draft | draft step ms | target step ms | c |");
    log("| --- | --- | --- | --- |");
    for (const d of shape.drafts) log(`| ${d.name} | ${f(d.stepMs, 1)} | ${f(d.targetStepMs, 1)} | ${f(d.c, 3)} |`);
    // α per zoo pair: the draft pairs on grammar (free text), measured above at each γ.
    const alphas = zoo.filter((r) => r.method.endsWith("-> zoo-base") && r.task === "grammar");
    if (alphas.length > 0) {
      log(`\nPROJECTED speedup on ${shape.target} for the α measured on the zoo pairs (grammar), not measured end to end:`);
      log("\n| α from | γ | α | draft | projected (Leviathan, γc + 1) | projected (measured verify cost) |");
      log("| --- | --- | --- | --- | --- | --- |");
      for (const r of alphas) {
        const a = r.metrics.spec_alpha;
        for (const d of shape.drafts) {
          const e = expectedTokensPerCall(a, r.gamma);
          // Both costs as ratios to a one-token target step, each measured within its own phase.
          const measuredCost = e / (r.gamma * d.c + shape.verifyMs[r.gamma + 1] / t1);
          log(`| ${r.method} | ${r.gamma} | ${f(a)} | ${d.name} | ${f(predictedSpeedup(a, r.gamma, d.c))} | ${f(measuredCost)} |`);
        }
      }
    }
  }
  if (values.json) fs.writeFileSync(values.json, JSON.stringify({ zoo, shape }, null, 2));
  const bad = zoo.filter((r) => r.mismatches > 0);
  if (bad.length > 0) {
    log(`\nFAIL: greedy speculative output differed from plain greedy decoding in ${bad.length} configurations`);
    process.exit(1);
  }
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
