/**
 * The sampling verification rule reproduces the target's distribution: over 20,000 seeded trials the
 * first emitted token (the first draft token when accepted, else the token drawn from
 * norm(max(0, p - q))) is distributed as p. Checked with a chi-square goodness-of-fit test at
 * significance 0.001 (the test fails when the statistic exceeds the 99.9% quantile), deterministic
 * because every draw comes from seeded generators. A rule that skips the residual fails it.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { seededRng } from "../../workers/eval/dataset";
import type { DecoderSession } from "../../workers/eval/decoder-session";
import { DraftModelGenerator, PromptLookupGenerator } from "../../workers/methods/speculative/candidates";
import { type DecodeOptions, speculativeDecode } from "../../workers/methods/speculative/loop";
import { sampleFrom, softmax, verifySampling } from "../../workers/methods/speculative/verify";
import { openZoo, zooPrompts, zooTokenizer } from "./helpers";

const TRIALS = 20_000;
/** 99.9% quantiles of chi-square with k degrees of freedom (significance 0.001). */
const CHI2_999: Record<number, number> = { 1: 10.828, 2: 13.816, 3: 16.266, 4: 18.467, 5: 20.515, 6: 22.458, 7: 24.322, 8: 26.124, 9: 27.877, 10: 29.588 };

function chiSquare(counts: number[], p: ArrayLike<number>, n: number): { stat: number; df: number } {
  // Cells with expected count < 5 are pooled into one, as the test's approximation requires.
  let stat = 0;
  let df = -1;
  let poolObs = 0;
  let poolExp = 0;
  for (let t = 0; t < counts.length; t++) {
    const e = p[t] * n;
    if (e < 5) {
      poolObs += counts[t];
      poolExp += e;
      continue;
    }
    stat += (counts[t] - e) ** 2 / e;
    df++;
  }
  if (poolExp > 0) {
    stat += (poolObs - poolExp) ** 2 / Math.max(poolExp, 1e-12);
    df++;
  }
  return { stat, df };
}

/** Wilson-Hilferty approximation of the 99.9% chi-square quantile (for df beyond the table). */
function chi2Quantile999(df: number): number {
  const z = 3.0902;
  return df * (1 - 2 / (9 * df) + z * Math.sqrt(2 / (9 * df))) ** 3;
}

/** First emitted token of one speculative step with `gamma` drafts sampled from q_i. */
type Rule = (p: Float64Array[], q: Float64Array[] | null, drafts: number[], rng: () => number) => number;
const rule: Rule = (p, q, drafts, rng) => {
  const v = verifySampling(drafts, (i) => p[i], q ? (i) => q[i] : null, rng);
  return v.accepted > 0 ? drafts[0] : v.next;
};

function empirical(p: Float64Array[], q: Float64Array[] | null, drafted: (rng: () => number) => number[], r: Rule, seed: number): number[] {
  const counts = new Array<number>(p[0].length).fill(0);
  const draftRng = seededRng(seed);
  const verifyRng = seededRng(seed + 1);
  for (let k = 0; k < TRIALS; k++) counts[r(p, q, drafted(draftRng), verifyRng)]++;
  return counts;
}

const dist = (...w: number[]) => {
  const s = w.reduce((a, b) => a + b, 0);
  return Float64Array.from(w, (x) => x / s);
};

describe("sampling verification (Leviathan et al.; Chen et al.)", () => {
  // Small synthetic distributions over 6 tokens, p and q far apart (q puts mass where p has none).
  const p = [dist(0.05, 0.4, 0.1, 0.2, 0.15, 0.1), dist(0.3, 0.1, 0.1, 0.1, 0.2, 0.2), dist(1, 1, 1, 1, 1, 1)];
  const q = [dist(0.5, 0.05, 0.3, 0.05, 0.05, 0.05), dist(0.1, 0.5, 0.1, 0.1, 0.1, 0.1)];
  const sampleDrafts = (rng: () => number) => [sampleFrom(q[0], rng), sampleFrom(q[1], rng)];

  it(`the first emitted token follows p over ${TRIALS} trials (chi-square, significance 0.001)`, () => {
    const counts = empirical(p, q, sampleDrafts, rule, 7);
    const { stat, df } = chiSquare(counts, p[0], TRIALS);
    expect(df).toBe(5);
    expect(stat).toBeLessThan(CHI2_999[df]);
  });

  it("a deterministic draft (prompt lookup: q one-hot) also gives p", () => {
    for (const fixed of [0, 1, 5]) {
      const counts = empirical(p, null, () => [fixed, 2], rule, 11 + fixed);
      const { stat, df } = chiSquare(counts, p[0], TRIALS);
      expect(stat, `draft token ${fixed}`).toBeLessThan(CHI2_999[df]);
    }
  });

  it("has the power to catch a wrong rule: resampling from p instead of the residual is rejected", () => {
    const wrong: Rule = (pp, qq, drafts, rng) => {
      const x = drafts[0];
      const accept = rng() <= pp[0][x] / (qq ? qq[0][x] : 1);
      return accept ? x : sampleFrom(pp[0], rng);
    };
    const counts = empirical(p, q, sampleDrafts, wrong, 7);
    const { stat, df } = chiSquare(counts, p[0], TRIALS);
    expect(stat).toBeGreaterThan(CHI2_999[df]);
  });

  it("accepts everything when q equals p, and the bonus token then follows p[gamma]", () => {
    const rng = seededRng(3);
    const counts = new Array<number>(6).fill(0);
    for (let k = 0; k < TRIALS; k++) {
      const drafts = [sampleFrom(p[0], rng), sampleFrom(p[1], rng)];
      const v = verifySampling(
        drafts,
        (i) => p[i],
        (i) => p[i],
        rng,
      );
      expect(v.accepted).toBe(2);
      counts[v.next]++;
    }
    const { stat, df } = chiSquare(counts, p[2], TRIALS);
    expect(stat).toBeLessThan(CHI2_999[df]);
  });
});

describe("sampling verification with the zoo's own distributions", () => {
  let target: DecoderSession;
  let draft: DecoderSession;
  beforeAll(async () => {
    target = await openZoo("zoo-base");
    draft = await openZoo("zoo-draft");
  });
  afterAll(async () => {
    await target?.release();
    await draft?.release();
  });

  it(`zoo-draft -> zoo-base at temperature 2: the first emitted token follows zoo-base's p over ${TRIALS} trials`, async () => {
    const tok = await zooTokenizer();
    const prompt = zooPrompts(tok, "grammar-test", 1, 8)[0];
    // Temperature 2 (applied to both models) spreads p over enough tokens for a many-cell test.
    const p0 = softmax(await target.prefill(prompt), 2);
    const q0 = softmax(await draft.prefill(prompt), 2);
    // The first emitted token depends only on p_0 and q_0 (later positions matter only after it).
    const counts = empirical([p0, p0], [q0], (rng) => [sampleFrom(q0, rng)], rule, 5);
    const { stat, df } = chiSquare(counts, p0, TRIALS);
    expect(df).toBeGreaterThanOrEqual(20);
    expect(stat).toBeLessThan(CHI2_999[df] ?? chi2Quantile999(df));
    // p and q differ enough that a rule without the residual would be visibly off.
    let tv = 0;
    for (let t = 0; t < p0.length; t++) tv += Math.abs(p0[t] - q0[t]) / 2;
    expect(tv).toBeGreaterThan(0.05);
  });

  it("sampled speculative decoding through the loop is reproducible under a seed and accepts drafts", async () => {
    const tok = await zooTokenizer();
    const prompt = zooPrompts(tok, "copy-test", 1, 24)[0];
    const run = async (seed: number, gen: "draft" | "lookup") => {
      const opts: DecodeOptions = { maxNew: 24, verification: "sampling", temperature: 0.8, rng: seededRng(seed) };
      const g = gen === "draft" ? new DraftModelGenerator(draft) : new PromptLookupGenerator(3);
      return speculativeDecode(target, g, prompt, 4, opts);
    };
    for (const gen of ["draft", "lookup"] as const) {
      const a = await run(9, gen);
      const b = await run(9, gen);
      expect(a.tokens).toHaveLength(24);
      expect(b.tokens).toEqual(a.tokens);
      expect(a.stats.accepted).toBeGreaterThan(0);
      expect(a.stats.emittedByCalls / a.stats.targetCalls).toBeGreaterThan(1);
    }
  });
});
