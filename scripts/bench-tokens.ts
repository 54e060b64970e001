/**
 * `npm run bench:tokens`: the token and KV-cache compression family on zoo-long (docs/BENCHMARKS.md).
 *
 *  (a) StreamingLLM's headline: perplexity of grammar streams 4x longer than the trained context,
 *      fed token by token, by position bucket: sinks + window, window only (0 sinks), and the dense
 *      model beyond its context (a copy of the model whose rotary table reaches the stream length).
 *  (b) Equal KV budgets on passkey and multi-query recall (1024-token prompts, test splits):
 *      StreamingLLM, H2O and SnapKV, exact match, with the dense model for reference.
 *  (c) Decode ms/token, the KV cache held and the process's peak RSS on shape-125m (random weights)
 *      reading a long prompt in chunks, by StreamingLLM budget, one process per budget.
 *  (s) Whether the model has an attention sink (StreamingLLM's premise): the mean attention
 *      probability each layer gives the first token, and the first four, over every query of
 *      --examples grammar-long texts of the trained context, against the share causal uniform
 *      attention would give it. Not in the default parts.
 *
 *   npm run bench:tokens -- [--model zoo/zoo-long] [--examples 30] [--streams 2] [--stream-tokens 4096]
 *                           [--budgets 64,128,256] [--shape-context 2048] [--parts a,b,c,s] [--json FILE]
 */
import { execFileSync } from "node:child_process";
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
    "child-c": { type: "string" },
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
/** Prompt chunk of (c): the cache never holds more than the budget plus one chunk. */
const CHUNK = 128;
const TIMED_STEPS = 32;

/**
 * One budget of (c), in its own process so that its peak RSS is its own: shape-125m (random weights),
 * a --shape-context prompt read in chunks of CHUNK tokens through KvPolicyState (StreamingLLM: 4
 * sinks + budget - 4 window, evicted after every chunk and after every decode step, keys rotated
 * back; dense: nothing evicted), then 4 untimed and TIMED_STEPS timed decode steps, each with its
 * eviction. Prints one JSON line.
 */
async function shapeChild(budget: number): Promise<void> {
  const m = await materializeShapeModel({ id: "shape-125m", sha256: null, card: null }, DATA_DIR, () => {});
  const s = await openDecoder(m.modelPath, "cpu");
  const ctx = Math.min(SHAPE_CONTEXT, (s.shape.maxPosition ?? SHAPE_CONTEXT) - 40);
  const spec: KvPolicySpec = budget >= ctx ? { kind: "dense" } : { kind: "streaming", sinks: 4, window: budget - 4 };
  const state = new KvPolicyState(s, spec, ropeTheta(m.modelPath));
  const prompt = Array.from({ length: ctx }, (_, i) => (i * 7919) % s.shape.vocabSize);
  const rssOpen = process.memoryUsage().rss;
  const t0 = performance.now();
  let logits = await state.prefill(prompt.slice(0, CHUNK));
  for (let at = CHUNK; at < ctx; at += CHUNK) logits = await state.extend(prompt.slice(at, at + CHUNK));
  const prefillMs = performance.now() - t0;
  const ms: number[] = [];
  let next = 1;
  for (let i = 0; i < TIMED_STEPS + 4; i++) {
    const t = performance.now();
    logits = await state.step(next);
    if (i >= 4) ms.push(performance.now() - t);
    next = (Math.abs(Math.floor(logits[0] * 1000)) + i + 1) % s.shape.vocabSize;
  }
  const out = {
    budget: spec.kind === "dense" ? ctx : budget,
    context: ctx,
    prefill_ms: prefillMs,
    decode_ms: ms,
    peak_kv_bytes: state.peakKvBytes,
    decode_kv_bytes: state.decodeKvBytes,
    rss_open_mib: rssOpen / 2 ** 20,
    peak_rss_mib: process.resourceUsage().maxRSS / 1024,
  };
  await s.release();
  process.stdout.write(`${JSON.stringify(out)}\n`);
}

/**
 * (c): every budget in a fresh process (shapeChild), two rounds in opposite budget orders; decode
 * ms/token is the median of both rounds' timed steps, peak RSS the larger of the two, RSS growth
 * (peak over the RSS with the model open, per process) the median of the two.
 */
async function shapeSpeed(): Promise<void> {
  await materializeShapeModel({ id: "shape-125m", sha256: null, card: null }, DATA_DIR, (l) => log(`  ${l}`));
  const budgetsC = [SHAPE_CONTEXT, ...[1024, 512, 256, 128].filter((b) => b < SHAPE_CONTEXT)];
  log(
    `\n(c) shape-125m (random weights): a ${SHAPE_CONTEXT}-token prompt read in chunks of ${CHUNK}, then ${TIMED_STEPS} timed decode steps, StreamingLLM evicting after every chunk and step; one process per budget, 2 rounds`,
  );
  const runs = new Map<number, Record<string, unknown>[]>(budgetsC.map((b) => [b, []]));
  for (const round of [budgetsC, [...budgetsC].reverse()]) {
    for (const b of round) {
      const args = [...process.execArgv, process.argv[1], "--child-c", String(b), "--shape-context", String(SHAPE_CONTEXT), "--data-dir", DATA_DIR];
      const out = execFileSync(process.execPath, args, { encoding: "utf8", maxBuffer: 1 << 24 });
      const line = out.trim().split("\n").at(-1) ?? "";
      runs.get(b)!.push(JSON.parse(line));
      log(`  budget ${b}: done`);
    }
  }
  log("| cache entries kept | decode ms/token, median of 64 [IQR] | prompt read (s) | peak KV bytes | peak RSS (MiB) | RSS growth over the open model (MiB) |");
  log("|---:|---:|---:|---:|---:|---:|");
  const rows: Record<string, unknown>[] = [];
  for (const b of budgetsC) {
    const r = runs.get(b)!;
    const all = r.flatMap((x) => x.decode_ms as number[]).sort((p, q) => p - q);
    const q = (f: number) => all[Math.min(all.length - 1, Math.floor(f * all.length))];
    const row = {
      budget: r[0].budget,
      decode_ms_per_token: median(all),
      iqr: [q(0.25), q(0.75)],
      prefill_ms: median(r.map((x) => x.prefill_ms as number)),
      peak_kv_bytes: Math.max(...r.map((x) => x.peak_kv_bytes as number)),
      peak_rss_mib: Math.max(...r.map((x) => x.peak_rss_mib as number)),
      rss_open_mib: median(r.map((x) => x.rss_open_mib as number)),
      // each process's own peak over its RSS with the model open: the open model alone varies by
      // tens of MiB between processes
      rss_growth_mib: median(r.map((x) => (x.peak_rss_mib as number) - (x.rss_open_mib as number))),
    };
    rows.push(row);
    log(
      `| ${b === SHAPE_CONTEXT ? `${row.budget} (dense)` : b} | ${f(row.decode_ms_per_token)} [${f(row.iqr[0])}, ${f(row.iqr[1])}] | ${f(row.prefill_ms / 1000, 1)} | ${row.peak_kv_bytes} | ${f(row.peak_rss_mib, 0)} | ${f(row.rss_growth_mib, 0)} |`,
    );
  }
  log(`RSS with the model open, before the prompt: ${f(median(rows.map((r) => r.rss_open_mib as number)), 0)} MiB`);
  results.shape = { context: SHAPE_CONTEXT, chunk: CHUNK, rows };
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
  // per layer and query head: attention on token 0, summed over texts (the strongest head's share)
  const perHead: Float64Array[] = Array.from({ length: L }, () => new Float64Array(cfg.num_heads));
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
        perHead[l][h] += a[h * T] / T;
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
  log("| layer | attention on token 0 | on tokens 0-3 | strongest head on token 0 | causal uniform attention on token 0 |");
  log("|---:|---:|---:|---:|---:|");
  const rows: Record<string, number>[] = [];
  for (let l = 0; l < L; l++) {
    const top = Math.max(...perHead[l]) / n;
    rows.push({ layer: l, first: first[l] / n, firstFour: firstFour[l] / n, strongestHead: top });
    log(`| ${l} | ${(first[l] / n).toFixed(4)} | ${(firstFour[l] / n).toFixed(4)} | ${top.toFixed(4)} | ${(uniform / n).toFixed(4)} |`);
  }
  results.sink = { texts: n, uniform: uniform / n, rows };
}

const t0 = performance.now();
log(`bench:tokens on ${path.relative(process.cwd(), MODEL)} (${os.cpus().length} x ${os.cpus()[0]?.model}, load ${os.loadavg()[0].toFixed(1)})`);
if (values["child-c"] !== undefined) {
  await shapeChild(int("child-c", values["child-c"], 8));
  fs.rmSync(tmp, { recursive: true, force: true });
  process.exit(0);
}
const parts = new Set((values.parts ?? "a,b,c").split(","));
if (parts.has("a")) await streaming();
if (parts.has("b")) await budgets();
if (parts.has("c")) await shapeSpeed();
if (parts.has("s")) await sinkMass();
log(`\ndone in ${((performance.now() - t0) / 1000).toFixed(0)} s`);
if (values.json) fs.writeFileSync(values.json, JSON.stringify(results, null, 2));
fs.rmSync(tmp, { recursive: true, force: true });
