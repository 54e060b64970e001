/**
 * The two verification rules of speculative decoding, as pure functions over logits rows.
 *
 * - Greedy (transformers' assisted decoding): the target's argmax at each drafted position; the
 *   longest agreeing prefix is accepted and the target's own argmax after it is emitted too.
 * - Sampling (Leviathan et al. 2211.17192, Chen et al. 2302.01318): draft token x_i, drawn from q_i,
 *   is accepted when r <= p_i(x_i) / q_i(x_i) with r uniform in [0, 1); at the first rejection the
 *   emitted token is drawn from norm(max(0, p_i - q_i)); when all are accepted a bonus token is drawn
 *   from p_{k+1}. The emitted tokens are then distributed exactly as the target's samples. A
 *   deterministic draft (prompt lookup) is the case q_i = one-hot(x_i).
 */
import { argmax } from "../../eval/decoder-session";

/** softmax(row / temperature) in float64. */
export function softmax(row: Float32Array, temperature: number): Float64Array {
  if (!(temperature > 0)) throw new Error(`sampling needs a temperature > 0, got ${temperature}`);
  const out = new Float64Array(row.length);
  let max = -Infinity;
  for (let i = 0; i < row.length; i++) if (row[i] > max) max = row[i];
  let sum = 0;
  for (let i = 0; i < row.length; i++) {
    out[i] = Math.exp((row[i] - max) / temperature);
    sum += out[i];
  }
  for (let i = 0; i < row.length; i++) out[i] /= sum;
  return out;
}

/** Inverse-CDF draw from the (not necessarily normalised) non-negative weights `w`. */
export function sampleFrom(w: ArrayLike<number>, rng: () => number): number {
  let total = 0;
  for (let i = 0; i < w.length; i++) total += w[i];
  if (!(total > 0)) throw new Error("cannot sample from an all-zero distribution");
  let u = rng() * total;
  let last = -1;
  for (let i = 0; i < w.length; i++) {
    if (w[i] <= 0) continue;
    last = i;
    u -= w[i];
    if (u < 0) return i;
  }
  return last; // rounding left u a hair above zero: the last token with mass
}

export interface Verdict {
  /** How many of the drafted tokens were accepted (a prefix). */
  accepted: number;
  /** The token the target adds after them: its correction at the first rejection, or the bonus token. */
  next: number;
}

/**
 * Greedy verification. `targetRows(i)` is the target's logits row that predicts the token after
 * drafted token i-1 (row 0 predicts the first drafted position), for i = 0..drafts.length.
 */
export function verifyGreedy(drafts: readonly number[], targetRows: (i: number) => Float32Array): Verdict {
  let n = 0;
  for (; n < drafts.length; n++) {
    if (argmax(targetRows(n)) !== drafts[n]) break;
  }
  return { accepted: n, next: argmax(targetRows(n)) };
}

/**
 * Sampling verification with target probabilities `p(i)` (softmaxed at the run's temperature) for
 * i = 0..drafts.length and draft probabilities `q(i)` for i < drafts.length, or null for a
 * deterministic draft (one-hot q). Consumes one rng draw per examined draft token plus one for the
 * emitted token.
 */
export function verifySampling(drafts: readonly number[], p: (i: number) => Float64Array, q: ((i: number) => Float64Array) | null, rng: () => number): Verdict {
  for (let i = 0; i < drafts.length; i++) {
    const x = drafts[i];
    const pi = p(i);
    const qi = q ? q(i) : null;
    const qx = qi ? qi[x] : 1;
    const r = rng();
    if (qx > 0 && r <= pi[x] / qx) continue;
    // Rejected: the residual max(0, p - q), renormalised by sampleFrom.
    const residual = new Float64Array(pi.length);
    let mass = 0;
    for (let t = 0; t < pi.length; t++) {
      residual[t] = Math.max(0, pi[t] - (qi ? qi[t] : t === x ? 1 : 0));
      mass += residual[t];
    }
    // p == q up to rounding (a rejection then has probability ~0): fall back to p itself.
    return { accepted: i, next: sampleFrom(mass > 1e-12 ? residual : pi, rng) };
  }
  return { accepted: drafts.length, next: sampleFrom(p(drafts.length), rng) };
}
