/**
 * `npm run bench:tokens`: the token and KV-cache compression family on zoo-long (docs/BENCHMARKS.md).
 *
 *  (a) StreamingLLM's headline: perplexity of grammar streams 4x longer than the trained context,
 *      fed token by token, by position bucket: sinks + window, window only (0 sinks), and the dense
 *      model beyond its context (a copy of the model whose rotary table reaches the stream length).
 *  (b) Equal KV budgets on passkey and multi-query recall (1024-token prompts, test splits):
 *      StreamingLLM, H2O and SnapKV, exact match, with the dense model for reference.
 *  (c) Decode ms/token and the KV cache held on shape-125m (random weights) after a long prompt, by
 *      StreamingLLM budget.
 *  (s) Whether the model has an attention sink (StreamingLLM's premise): the mean attention
 *      probability each layer gives the first token, and the first four, over every query of
 *      --examples grammar-long texts of the trained context, against the share causal uniform
 *      attention would give it. Not in the default parts.
 *
 *   npm run bench:tokens -- [--model zoo/zoo-long] [--examples 30] [--streams 2] [--stream-tokens 4096]
 *                           [--budgets 64,128,256] [--shape-context 2048] [--parts a,b,c,s] [--json FILE]
 */
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { performance } from "node:perf_hooks";
import { parseArgs } from "node:util";
import { openDecoder, type DecoderSession } from "../workers/eval/decoder-session";
import { rotaryTables } from "../workers/onnx/decoder-builder";
import { parseDecoderConfig } from "../workers/onnx/decoder-config";
import { readModel, setInitializer, writeModel } from "../workers/onnx/model-io";
import { materializeShapeModel } from "../workers/onnx/shape-cache";
import { loadTokenizer } from "../workers/tokenizer/tokenizer";
import { KvPolicyState, streamNll, type KvPolicySpec } from "../workers/methods/tokens/kv-decode";
import { streamingKeep } from "../workers/methods/tokens/policies";
import { answerQuality, median, openForPolicy, ropeTheta } from "../workers/methods/tokens/evaluate";
import { exposeAttentionScores } from "../workers/methods/tokens/attention-graph";

const { values } = parseArgs({
  options: {
    model: { type: "string", default: "zoo/zoo-long" },
    examples: { type: "string", default: "30" },
    streams: { type: "string", default: "2" },
    "stream-tokens": { type: "string", default: "4096" },
    budgets: { type: "string", default: "64,128,256" },
    "shape-context": { type: "string", default: "2048" },
    "data-dir": { type: "string" },
    parts: { type: "string", default: "a,b,c" },
    json: { type: "string" },
  },
});
const int = (name: string, v: string | undefined, min: number) => {
  const n = Number(v);
  if (!Number.isInteger(n) || n < min) throw new Error(`--${name} must be an integer >= ${min}, got "${v}"`);
  return n;
};
const MODEL = path.resolve(values.model ?? "zoo/zoo-long", "model.onnx");
const EXAMPLES = int("examples", values.examples, 1);
const STREAMS = int("streams", values.streams, 1);
const STREAM_TOKENS = int("stream-tokens", values["stream-tokens"], 16);
const BUDGETS = (values.budgets ?? "").split(",").map((b) => int("budgets", b, 8));
const SHAPE_CONTEXT = int("shape-context", values["shape-context"], 64);
const DATA_DIR = path.resolve(values["data-dir"] ?? process.env.FRONTIER_DATA_DIR ?? "data");
const ZOO = path.resolve("zoo");
if (!fs.existsSync(MODEL)) throw new Error(`${MODEL} not found: train zoo-long first (npm run zoo:train-long)`);
const tmp = fs.mkdtempSync(path.join(os.tmpdir(), "bench-tokens-"));
const log = (s: string) => process.stdout.write(`${s}\n`);
const f = (x: number | undefined, d = 2) => (x === undefined || !Number.isFinite(x) ? "—" : x.toFixed(d));
const tok = loadTokenizer(path.join(path.dirname(MODEL), "tokenizer.json"));
const cfg = parseDecoderConfig(JSON.parse(fs.readFileSync(path.join(path.dirname(MODEL), "config.json"), "utf8")));
const theta = ropeTheta(MODEL);
const results: Record<string, unknown> = {
  model: path.basename(path.dirname(MODEL)),
  date: new Date().toISOString(),
  cpu: os.cpus()[0]?.model,
  cores: os.cpus().length,
};

const readJsonl = (file: string) =>
  fs
    .readFileSync(file, "utf8")
    .trim()
    .split("\n")
    .map((l) => JSON.parse(l) as Record<string, unknown>);

/** A copy of the model whose rotary table reaches `positions` (the dense model run beyond its context). */
function extendedModel(positions: number): string {
  const dir = path.join(tmp, "extended");
  fs.mkdirSync(dir, { recursive: true });
  const model = readModel(MODEL);
  const { cos, sin } = rotaryTables({ ...cfg, max_position: positions });
  const D = cfg.hidden_size / cfg.num_heads;
  setInitializer(model, "rotary.cos", [positions, D], cos);
  setInitializer(model, "rotary.sin", [positions, D], sin);
  writeModel(model, path.join(dir, "model.onnx"));
  fs.writeFileSync(path.join(dir, "config.json"), JSON.stringify({ ...cfg, max_position: positions }));
  return path.join(dir, "model.onnx");
}

// (a) ---------------------------------------------------------------------------------------------
async function streaming(): Promise<void> {
  const streams = readJsonl(path.join(ZOO, "datasets", "grammar-long-test.jsonl"))
    .slice(0, STREAMS)
    .map((l) => [tok.eosId ?? 0, ...tok.encode(l.text as string)].slice(0, STREAM_TOKENS));
  const len = Math.min(...streams.map((s) => s.length));
  const buckets = [0, 1, 2, 3].map((i) => Math.floor((i * len) / 4));
  log(`\n(a) grammar-long test: ${streams.length} streams of ${len} tokens (trained context ${cfg.max_position}), fed token by token`);
  const dense = await openDecoder(extendedModel(len + 1), "cpu");
  const plain = await openDecoder(MODEL, "cpu");
  const configs: { name: string; session: DecoderSession; spec: KvPolicySpec }[] = [
    { name: "StreamingLLM, 4 sinks + 252 window", session: plain, spec: { kind: "streaming", sinks: 4, window: 252 } },
    { name: "window only, 0 sinks + 256 window", session: plain, spec: { kind: "streaming", sinks: 0, window: 256 } },
    { name: `dense, rotary extended past ${cfg.max_position}`, session: dense, spec: { kind: "dense" } },
  ];
  const rows: Record<string, unknown>[] = [];
  log(`| config | ${buckets.map((b, i) => `ppl tokens ${b}-${i < 3 ? buckets[i + 1] : len}`).join(" | ")} | KV bytes held | ms/token |`);
  log(`|---|${buckets.map(() => "---:").join("|")}|---:|---:|`);
  for (const c of configs) {
    const nll = buckets.map(() => ({ s: 0, n: 0 }));
    let peak = 0;
    const ms: number[] = [];
    for (const ids of streams) {
      const state = new KvPolicyState(c.session, c.spec, theta);
      const t0 = performance.now();
      const per = await streamNll(state, ids);
      ms.push((performance.now() - t0) / ids.length);
      per.forEach((x, i) => {
        const b = buckets.filter((s) => i + 1 >= s).length - 1;
        nll[b].s += x;
        nll[b].n++;
      });
      peak = Math.max(peak, state.decodeKvBytes);
    }
    const ppl = nll.map((b) => Math.exp(b.s / b.n));
    rows.push({ config: c.name, ppl_by_quarter: ppl, peak_kv_bytes: peak, ms_per_token: median(ms) });
    log(`| ${c.name} | ${ppl.map((p) => f(p)).join(" | ")} | ${peak} | ${f(median(ms))} |`);
  }
  await dense.release();
  await plain.release();
  results.streaming = { tokens: len, streams: streams.length, rows };
}

// (b) ---------------------------------------------------------------------------------------------
async function budgets(): Promise<void> {
  const tasks = ["passkey-1024", "mqar-1024"].map((name) => ({
    name,
    examples: readJsonl(path.join(ZOO, "datasets", `${name}-test.jsonl`))
      .slice(0, EXAMPLES)
      .map((l) => ({ prompt: l.prompt as string, answer: l.answer as string })),
  }));
  log(`\n(b) exact match at equal KV budgets (${EXAMPLES} test examples per task, prompts of about 1024 tokens)`);
  const specs: { name: string; spec: (b: number) => KvPolicySpec }[] = [
    { name: "StreamingLLM", spec: (b) => ({ kind: "streaming", sinks: 4, window: b - 4 }) },
    { name: "H2O", spec: (b) => ({ kind: "h2o", budget: b, recentRatio: 0.5 }) },
    { name: "SnapKV", spec: (b) => ({ kind: "snapkv", budget: b, window: Math.min(16, b / 4), kernel: 5 }) },
  ];
  const rows: Record<string, unknown>[] = [];
  const header = `| method | budget | ${tasks.map((t) => `${t.name} EM`).join(" | ")} | KV bytes held decoding | kept ratio |`;
  log(header);
  log(`|---|---:|${tasks.map(() => "---:").join("|")}|---:|---:|`);
  const dense = await openDecoder(MODEL, "cpu");
  const denseScores = [];
  for (const t of tasks) denseScores.push(await answerQuality(dense, tok, { kind: "dense" }, t.examples, theta));
  await dense.release();
  rows.push({ method: "dense", budget: null, scores: denseScores });
  log(`| dense | all | ${denseScores.map((s) => f(s.exact_match)).join(" | ")} | ${denseScores[0].kv_cache_bytes} | 1.00 |`);
  for (const m of specs) {
    const session = await openForPolicy(MODEL, m.spec(BUDGETS[0]), path.join(tmp, m.name), "cpu");
    for (const b of BUDGETS) {
      const scores = [];
      for (const t of tasks) scores.push(await answerQuality(session, tok, m.spec(b), t.examples, theta));
      rows.push({ method: m.name, budget: b, scores });
      log(`| ${m.name} | ${b} | ${scores.map((s) => f(s.exact_match)).join(" | ")} | ${scores[0].kv_cache_bytes} | ${f(scores[0].kept_token_ratio, 3)} |`);
    }
    await session.release();
  }
  results.budgets = { examples: EXAMPLES, rows };
}

// (c) ---------------------------------------------------------------------------------------------
/**
 * One prefill of a long prompt; its cache is then written back for every budget and cut once to
 * StreamingLLM's sinks + window (keys rotated back), and 16 decode steps are timed after 4 untimed
 * ones. The cut is not in the timed steps: it is the forward's cost at each cache size that is
 * measured (evicting every step on the host copies the whole kept cache each time, see the notes).
 * Two rounds, budgets in opposite orders, median of both.
 */
async function shapeSpeed(): Promise<void> {
  const m = await materializeShapeModel({ id: "shape-125m", sha256: null, card: null }, DATA_DIR, (l) => log(`  ${l}`));
  const s = await openDecoder(m.modelPath, "cpu");
  const ctx = Math.min(SHAPE_CONTEXT, (s.shape.maxPosition ?? SHAPE_CONTEXT) - 40);
  const prompt = Array.from({ length: ctx }, (_, i) => (i * 7919) % s.shape.vocabSize);
  log(`\n(c) shape-125m (random weights): one prefill of ${ctx} tokens; per budget the cache cut once, then 16 timed decode steps (2 rounds)`);
  const t0 = performance.now();
  await s.prefill(prompt);
  const prefillMs = performance.now() - t0;
  const full = await s.readCache();
  const budgetsC = [ctx, 1024, 512, 256, 128].filter((b) => b <= ctx);
  const ms = new Map<number, number[]>(budgetsC.map((b) => [b, []]));
  const held = new Map<number, number>();
  for (const round of [budgetsC, [...budgetsC].reverse()]) {
    for (const b of round) {
      await s.writeCache({ length: full.length, keys: full.keys.map((k) => k.slice()), values: full.values.map((v) => v.slice()) });
      if (b < ctx) {
        const keep = streamingKeep(ctx, 4, b - 4);
        const perLayer = Array.from({ length: s.shape.numLayers }, () => Array.from({ length: s.shape.numKvHeads }, () => keep));
        await s.keepPositions(perLayer, { shift: Int32Array.from(keep, (i, j) => i - j), ropeTheta: 10000 });
      }
      held.set(b, s.kvCacheBytes);
      let next = 1;
      for (let i = 0; i < 20; i++) {
        const t = performance.now();
        const logits = await s.step(next);
        if (i >= 4) ms.get(b)!.push(performance.now() - t);
        next = (Math.floor(logits[0] * 1000) + i + 1) % s.shape.vocabSize;
        if (next < 0) next += s.shape.vocabSize;
      }
    }
  }
  log(`prefill of ${ctx} tokens: ${f(prefillMs / 1000, 1)} s`);
  log("| cache entries kept | decode ms/token (median of 32) | KV bytes held after the cut |");
  log("|---:|---:|---:|");
  const rows: Record<string, unknown>[] = [];
  for (const b of budgetsC) {
    rows.push({ budget: b, decode_ms_per_token: median(ms.get(b)!), kv_cache_bytes: held.get(b) });
    log(`| ${b === ctx ? `${b} (dense)` : b} | ${f(median(ms.get(b)!))} | ${held.get(b)} |`);
  }
  log(`RSS at the end: ${f(process.memoryUsage().rss / 2 ** 20, 0)} MiB (the full cache's host copy is held for the rounds)`);
  await s.release();
  results.shape = { context: ctx, prefill_ms: prefillMs, rows };
}

// (s) ---------------------------------------------------------------------------------------------
async function sinkMass(): Promise<void> {
  log("\n### (s) Attention on the first tokens (an attention sink?)\n");
  const dir = path.join(tmp, "scores");
  fs.mkdirSync(dir, { recursive: true });
  for (const name of ["config.json", "tokenizer.json"]) fs.copyFileSync(path.join(path.dirname(MODEL), name), path.join(dir, name));
  exposeAttentionScores(MODEL, path.join(dir, "model.onnx"), cfg.num_layers);
  const s = await openDecoder(path.join(dir, "model.onnx"), "cpu");
  const texts = readJsonl(path.join(ZOO, "datasets", "grammar-long-test.jsonl")).slice(0, EXAMPLES);
  const L = cfg.num_layers;
  const first = new Float64Array(L);
  const firstFour = new Float64Array(L);
  let uniform = 0;
  for (const ex of texts) {
    const ids = [...(tok.eosId !== null ? [tok.eosId] : []), ...tok.encode(String(ex.text ?? ""))].slice(0, cfg.max_position);
    s.attentionWindow = null;
    await s.prefill(ids);
    const T = ids.length;
    for (let l = 0; l < L; l++) {
      // [heads, T]: each key's probability summed over every query; each query's row sums to 1
      const a = s.lastAttention?.[l] ?? new Float32Array(0);
      const H = a.length / T;
      for (let h = 0; h < H; h++) {
        first[l] += a[h * T] / (H * T);
        for (let j = 0; j < 4; j++) firstFour[l] += a[h * T + j] / (H * T);
      }
    }
    // causal attention spread evenly gives the first key 1/(i+1) of query i's mass
    let harmonic = 0;
    for (let i = 1; i <= T; i++) harmonic += 1 / i;
    uniform += harmonic / T;
  }
  await s.release();
  const n = texts.length;
  log(
    `${n} grammar-long test texts of up to ${cfg.max_position} tokens (the first token is ${tok.eosId !== null ? "end-of-text, as in training" : "the text's first"}); mean over every query and head:`,
  );
  log("| layer | attention on token 0 | on tokens 0-3 | causal uniform attention on token 0 |");
  log("|---:|---:|---:|---:|");
  const rows: Record<string, number>[] = [];
  for (let l = 0; l < L; l++) {
    rows.push({ layer: l, first: first[l] / n, firstFour: firstFour[l] / n });
    log(`| ${l} | ${(first[l] / n).toFixed(4)} | ${(firstFour[l] / n).toFixed(4)} | ${(uniform / n).toFixed(4)} |`);
  }
  results.sink = { texts: n, uniform: uniform / n, rows };
}

const t0 = performance.now();
log(`bench:tokens on ${path.relative(process.cwd(), MODEL)} (${os.cpus().length} x ${os.cpus()[0]?.model}, load ${os.loadavg()[0].toFixed(1)})`);
const parts = new Set((values.parts ?? "a,b,c").split(","));
if (parts.has("a")) await streaming();
if (parts.has("b")) await budgets();
if (parts.has("c")) await shapeSpeed();
if (parts.has("s")) await sinkMass();
log(`\ndone in ${((performance.now() - t0) / 1000).toFixed(0)} s`);
if (values.json) fs.writeFileSync(values.json, JSON.stringify(results, null, 2));
fs.rmSync(tmp, { recursive: true, force: true });
