import { decoderWeightShapes, headDim, isNormWeight, parseDecoderConfig, type DecoderConfigInput } from "@/workers/onnx/decoder-config";
import { fillNormal } from "@/workers/onnx/random";

/** The two-layer GQA decoder (4 heads, 2 kv heads) the ONNX tests build. */
export const GQA: DecoderConfigInput = {
  vocab_size: 64,
  num_layers: 2,
  num_heads: 4,
  num_kv_heads: 2,
  hidden_size: 32,
  intermediate_size: 48,
  max_position: 64,
};

/** A batch of two rows; row 1 is left-padded by two: its positions start at 0 on the first real token. */
export const PADDED_BATCH = {
  ids: [
    [5, 17, 33, 2, 60, 41, 9],
    [0, 0, 12, 7, 7, 50, 3],
  ],
  mask: [
    [1, 1, 1, 1, 1, 1, 1],
    [0, 0, 1, 1, 1, 1, 1],
  ],
  pos: [
    [0, 1, 2, 3, 4, 5, 6],
    [0, 0, 0, 1, 2, 3, 4],
  ],
};

/**
 * Test weights far larger than the 0.02 initialisation, and norms away from 1, so that a wrong
 * head mapping, rotary sign or norm shows up as a logit difference well above the 1e-4 tolerance.
 */
export function testWeights(configInput: DecoderConfigInput, seed: number, std = 0.25): Map<string, Float32Array> {
  const c = parseDecoderConfig(configInput);
  const out = new Map<string, Float32Array>();
  for (const [name, dims] of decoderWeightShapes(c)) {
    const w = fillNormal(new Float32Array(dims.reduce((p, d) => p * d, 1)), isNormWeight(name) ? 0.2 : std, seed, name);
    if (isNormWeight(name)) for (let i = 0; i < w.length; i++) w[i] += 1;
    out.set(name, w);
  }
  return out;
}

export interface StepInputs {
  ids: number[][];
  mask?: number[][];
  pos?: number[][];
  /** present.* of the previous step, by layer. */
  past?: { key: Float32Array; value: Float32Array }[];
  pastLength?: number;
}

/** Feeds for one decoder step; the tensor class comes from whichever ORT build runs it. */
export function decoderFeeds<T>(ort: { Tensor: new (...args: never[]) => T }, configInput: DecoderConfigInput, s: StepInputs): Record<string, T> {
  const c = parseDecoderConfig(configInput);
  const Tensor = ort.Tensor as unknown as new (type: string, data: BigInt64Array | Float32Array, dims: number[]) => T;
  const B = s.ids.length;
  const T = s.ids[0].length;
  const P = s.pastLength ?? 0;
  const i64 = (rows: number[][]) => BigInt64Array.from(rows.flat().map(BigInt));
  const mask = s.mask ?? s.ids.map(() => new Array<number>(P + T).fill(1));
  const pos = s.pos ?? s.ids.map(() => Array.from({ length: T }, (_, t) => P + t));
  const feeds: Record<string, T> = {
    input_ids: new Tensor("int64", i64(s.ids), [B, T]),
    attention_mask: new Tensor("int64", i64(mask), [B, P + T]),
    position_ids: new Tensor("int64", i64(pos), [B, T]),
  };
  const D = headDim(c);
  for (let l = 0; l < c.num_layers; l++) {
    const past = s.past?.[l];
    feeds[`past_key_values.${l}.key`] = new Tensor("float32", past?.key ?? new Float32Array(0), [B, c.num_kv_heads, P, D]);
    feeds[`past_key_values.${l}.value`] = new Tensor("float32", past?.value ?? new Float32Array(0), [B, c.num_kv_heads, P, D]);
  }
  return feeds;
}

export function maxAbsDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  if (a.length !== b.length) throw new Error(`length ${a.length} vs ${b.length}`);
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i] - b[i]));
  return m;
}

export function maxAbs(a: ArrayLike<number>): number {
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i]));
  return m;
}

/** Logits of one (batch, position) row out of a [B, T, V] array. */
export function logitsRow(logits: Float32Array, T: number, V: number, b: number, t: number): Float32Array {
  return logits.subarray((b * T + t) * V, (b * T + t + 1) * V);
}
