/**
 * The zoo trainer: one onnxruntime-node session runs the whole training step (forward, loss and
 * every weight gradient, see model.ts); AdamW runs in JavaScript. A forward-only session of the
 * same shapes scores the validation splits during training (teacher-forced: an exact-match example
 * counts as correct when the argmax at every answer token and at the closing newline is right,
 * which is exactly when greedy generation reproduces the answer).
 */
import * as ort from "onnxruntime-node";
import { decoderWeightShapes, parseDecoderConfig, type DecoderConfig, type DecoderConfigInput } from "../onnx/decoder-config";
import { buildDecoderGraph, initWeights, type Weights } from "./model";
import { AdamW, lrAt } from "./adamw";
import { RowSource, makeBatch, type DataMix, type Row } from "./batches";
import { Rng } from "../data/rng";
import type { Tokenizer } from "../tokenizer/tokenizer";

export interface TrainSpec {
  name: string;
  config: DecoderConfigInput;
  seed: number;
  batch: number;
  seq: number;
  steps: number;
  lr: number;
  warmup: number;
  minLrRatio: number;
  weightDecay: number;
  clip: number;
  mix: DataMix;
  evalEvery: number;
  /**
   * Optional first phase on short rows (its own static [batch, seq] graph, same weights). Attention
   * over a short context gives the right position a larger share, so the copy/recall circuits form
   * sooner (docs/zoo.md). Its steps count toward `steps`; the learning-rate schedule spans both.
   */
  shortPhase?: { steps: number; batch: number; seq: number; mix: DataMix };
  /**
   * A second schedule that continues from this run's final weights with a fresh AdamW state, its own
   * warmup and cosine decay, and a data stream seeded with seed + 1.
   */
  continuation?: { steps: number; lr: number; warmup: number; minLrRatio: number; batch: number; seq: number; mix: DataMix };
}

export interface CurvePoint {
  step: number;
  loss: number;
  lr: number;
  gradNorm: number;
  tokens: number;
  seconds: number;
  eval?: Record<string, number>;
}

export interface Timing {
  ortRunMs: number;
  optimizerMs: number;
  dataMs: number;
  evalMs: number;
  totalMs: number;
}

export interface ValidationSet {
  /** Perplexity texts (grammar validation). */
  texts: string[];
  /** Exact-match style examples per task name. */
  exact: Record<string, { prompt: string; answer: string }[]>;
}

export interface TrainResult {
  config: DecoderConfig;
  weights: Weights;
  curve: CurvePoint[];
  timing: Timing;
  tokensSeen: number;
  finalLoss: number;
}

export const sessionOptions = (): ort.InferenceSession.SessionOptions => ({
  graphOptimizationLevel: "all",
  intraOpNumThreads: Number(process.env.ZOO_TRAIN_THREADS ?? 2),
  interOpNumThreads: 1,
  executionMode: "sequential",
});

function weightFeeds(cfg: DecoderConfig, w: Weights): Record<string, ort.Tensor> {
  const shapes = decoderWeightShapes(cfg);
  const feeds: Record<string, ort.Tensor> = {};
  for (const [k, v] of w) feeds[k] = new ort.Tensor("float32", v, shapes.get(k)!);
  return feeds;
}

/** The forward graph of the trainer (same math as training) for scoring and for tests. */
export class ForwardRunner {
  private constructor(
    private readonly session: ort.InferenceSession,
    readonly cfg: DecoderConfig,
    readonly batch: number,
    readonly seq: number,
  ) {}

  static async create(cfg: DecoderConfig, batch: number, seq: number): Promise<ForwardRunner> {
    const g = buildDecoderGraph(cfg, batch, seq, "forward");
    return new ForwardRunner(await ort.InferenceSession.create(g.bytes, sessionOptions()), cfg, batch, seq);
  }

  /** Logits [batch*seq, vocab] for rows of ids (padded with `pad` to seq). */
  async logits(weights: Weights, rows: number[][], pad: number): Promise<Float32Array> {
    const { batch: B, seq: T } = this;
    if (rows.length > B) throw new Error(`forward: ${rows.length} rows for a batch of ${B}`);
    const ids = new BigInt64Array(B * T).fill(BigInt(pad));
    rows.forEach((r, b) => {
      if (r.length > T) throw new Error(`forward: row of ${r.length} tokens exceeds ${T}`);
      r.forEach((t, j) => (ids[b * T + j] = BigInt(t)));
    });
    const feeds = weightFeeds(this.cfg, weights);
    feeds.input_ids = new ort.Tensor("int64", ids, [B * T]);
    feeds.targets = new ort.Tensor("int64", ids, [B * T]);
    feeds.loss_weights = new ort.Tensor("float32", new Float32Array(B * T), [B * T, 1]);
    const out = await this.session.run(feeds, ["logits"]);
    return out.logits.data as Float32Array;
  }

  async release(): Promise<void> {
    await this.session.release();
  }
}

function logSoftmaxAt(row: Float32Array, off: number, V: number, idx: number): number {
  let max = -Infinity;
  for (let i = 0; i < V; i++) max = Math.max(max, row[off + i]);
  let s = 0;
  for (let i = 0; i < V; i++) s += Math.exp(row[off + i] - max);
  return row[off + idx] - max - Math.log(s);
}

function argmaxAt(row: Float32Array, off: number, V: number): number {
  let best = 0;
  for (let i = 1; i < V; i++) if (row[off + i] > row[off + best]) best = i;
  return best;
}

/** Validation scores: grammar perplexity (end-of-text as first context, as the harness does) and teacher-forced exact match. */
export async function evaluate(fwd: ForwardRunner, weights: Weights, tok: Tokenizer, val: ValidationSet): Promise<Record<string, number>> {
  const V = fwd.cfg.vocab_size;
  const T = fwd.seq;
  const nl = tok.encode("\n")[0];
  const pad = tok.padId ?? 0;
  const out: Record<string, number> = {};
  let nll = 0;
  let count = 0;
  for (let i = 0; i < val.texts.length; i += fwd.batch) {
    const rows = val.texts.slice(i, i + fwd.batch).map((t) => [tok.eosId ?? pad, ...tok.encode(t)].slice(0, T));
    const logits = await fwd.logits(weights, rows, pad);
    rows.forEach((r, b) => {
      for (let j = 1; j < r.length; j++) {
        nll -= logSoftmaxAt(logits, (b * T + j - 1) * V, V, r[j]);
        count++;
      }
    });
  }
  if (count > 0) out.grammar_ppl = Math.exp(nll / count);
  for (const [task, examples] of Object.entries(val.exact)) {
    let correct = 0;
    for (let i = 0; i < examples.length; i += fwd.batch) {
      const chunk = examples.slice(i, i + fwd.batch).map((e) => {
        const p = tok.encode(e.prompt);
        const a = [...tok.encode(e.answer), nl];
        return { ids: [...p, ...a].slice(-T), start: Math.max(0, p.length - Math.max(0, p.length + a.length - T)) };
      });
      const logits = await fwd.logits(
        weights,
        chunk.map((c) => c.ids),
        pad,
      );
      chunk.forEach((c, b) => {
        let ok = true;
        for (let j = c.start; j < c.ids.length && ok; j++) ok = argmaxAt(logits, (b * T + j - 1) * V, V) === c.ids[j];
        if (ok) correct++;
      });
    }
    out[`${task}_em`] = examples.length ? correct / examples.length : 0;
  }
  return out;
}

export interface TrainHooks {
  log?: (line: string) => void;
  onEval?: (p: CurvePoint) => void;
}

/** Where a continued run starts: the weights of an earlier run and its step and token counts. */
export interface TrainStart {
  weights: Weights;
  step: number;
  tokens: number;
}

/**
 * Trains from the seeded initialisation, or from `start` (a continuation: fresh optimizer state and
 * its own schedule, curve steps and token counts carried on from the earlier run).
 */
export async function train(spec: TrainSpec, tok: Tokenizer, val: ValidationSet, hooks: TrainHooks = {}, start?: TrainStart): Promise<TrainResult> {
  const cfg = parseDecoderConfig(spec.config);
  if (cfg.vocab_size < tok.vocabSize) throw new Error(`vocab_size ${cfg.vocab_size} is below the tokenizer's ${tok.vocabSize}`);
  if (spec.seq > cfg.max_position) throw new Error(`seq ${spec.seq} exceeds max_position ${cfg.max_position}`);
  const log = hooks.log ?? (() => {});
  const t0 = performance.now();
  const short = spec.shortPhase;
  if (short && (short.steps >= spec.steps || short.seq > spec.seq))
    throw new Error(`[${spec.name}] the short phase must be shorter than the run, in steps and in seq`);
  const phases = [
    ...(short ? [{ ...short, from: 0, to: short.steps }] : []),
    { steps: spec.steps - (short?.steps ?? 0), batch: spec.batch, seq: spec.seq, mix: spec.mix, from: short?.steps ?? 0, to: spec.steps },
  ];
  const rng = new Rng(spec.seed ^ 0x5eed);
  const runners = await Promise.all(
    phases.map(async (p) => ({
      ...p,
      session: await ort.InferenceSession.create(buildDecoderGraph(cfg, p.batch, p.seq, "train").bytes, sessionOptions()),
      source: new RowSource(tok, p.seq, p.mix, rng),
    })),
  );
  const fwd = await ForwardRunner.create(cfg, 16, spec.seq);
  const weights: Weights = start ? new Map([...start.weights].map(([k, v]) => [k, v.slice()])) : initWeights(cfg, spec.seed);
  const stepOffset = start?.step ?? 0;
  const opt = new AdamW({ beta1: 0.9, beta2: 0.95, eps: 1e-8, weightDecay: spec.weightDecay, clip: spec.clip }, (n) => !n.endsWith("norm.weight"));
  const shapes = decoderWeightShapes(cfg);
  const timing: Timing = { ortRunMs: 0, optimizerMs: 0, dataMs: 0, evalMs: 0, totalMs: 0 };
  const curve: CurvePoint[] = [];
  let tokens = start?.tokens ?? 0;
  let emaLoss = NaN;

  const doEval = async (step: number, loss: number, lr: number, gradNorm: number) => {
    const te = performance.now();
    const scores = await evaluate(fwd, weights, tok, val);
    timing.evalMs += performance.now() - te;
    const p: CurvePoint = { step: step + stepOffset, loss, lr, gradNorm, tokens, seconds: (performance.now() - t0) / 1000, eval: scores };
    curve.push(p);
    hooks.onEval?.(p);
    log(
      `[${spec.name}] eval step ${step + stepOffset}: ${Object.entries(scores)
        .map(([k, v]) => `${k}=${v.toFixed(3)}`)
        .join(" ")}`,
    );
  };

  let lastLoss = NaN;
  for (let step = 0; step < spec.steps; step++) {
    const phase = runners.find((p) => step < p.to)!;
    const { session, source, batch: B, seq: T } = phase;
    const lr = lrAt(step, spec.steps, spec.lr, spec.warmup, spec.minLrRatio);
    const td = performance.now();
    const rows: Row[] = [];
    for (let b = 0; b < B; b++) rows.push(source.next((step - phase.from) / phase.steps));
    const batch = makeBatch(rows, T);
    timing.dataMs += performance.now() - td;

    const tr = performance.now();
    const feeds = weightFeeds(cfg, weights);
    feeds.input_ids = new ort.Tensor("int64", batch.inputIds, [B * T]);
    feeds.targets = new ort.Tensor("int64", batch.targets, [B * T]);
    feeds.loss_weights = new ort.Tensor("float32", batch.lossWeights, [B * T, 1]);
    const out = await session.run(feeds);
    timing.ortRunMs += performance.now() - tr;

    const to = performance.now();
    const loss = (out.loss.data as Float32Array)[0];
    if (!Number.isFinite(loss)) throw new Error(`[${spec.name}] loss became ${loss} at step ${step}`);
    const grads = new Map<string, Float32Array>();
    for (const name of shapes.keys()) grads.set(name, out[`grad.${name}`].data as Float32Array);
    const gradNorm = opt.step(weights, grads, lr);
    timing.optimizerMs += performance.now() - to;
    tokens += B * T;
    lastLoss = loss;
    emaLoss = Number.isNaN(emaLoss) ? loss : 0.95 * emaLoss + 0.05 * loss;

    if (step % 10 === 0 || step === spec.steps - 1) {
      const sec = (performance.now() - t0) / 1000;
      const tps = tokens / sec;
      const eta = ((spec.steps - step - 1) * sec) / (step + 1);
      log(
        `[${spec.name}] step ${step + 1}/${spec.steps} [${B}x${T}] loss ${loss.toFixed(4)} (ema ${emaLoss.toFixed(4)}) lr ${lr.toExponential(2)} |g| ${gradNorm.toFixed(2)} ${tps.toFixed(0)} tok/s ETA ${eta.toFixed(0)} s`,
      );
      const evalHere = (step % spec.evalEvery === 0 && step > 0) || step === spec.steps - 1;
      if (!evalHere) curve.push({ step: step + 1 + stepOffset, loss, lr, gradNorm, tokens, seconds: sec });
    }
    if (step % spec.evalEvery === 0 && step > 0) await doEval(step + 1, loss, lr, gradNorm);
  }
  await doEval(spec.steps, lastLoss, lrAt(spec.steps - 1, spec.steps, spec.lr, spec.warmup, spec.minLrRatio), NaN);
  timing.totalMs = performance.now() - t0;
  for (const r of runners) await r.session.release();
  await fwd.release();
  return { config: cfg, weights, curve, timing, tokensSeen: tokens, finalLoss: lastLoss };
}
