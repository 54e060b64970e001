/**
 * Deterministic pseudo-random numbers: every generator, the trainer's initialisation and its data
 * stream derive from a seed, so the same seed gives the same bytes and the same weights.
 */

/** splitmix32: spreads a small integer seed over 32 bits before it feeds sfc32. */
function splitmix32(a: number): () => number {
  return () => {
    a |= 0;
    a = (a + 0x9e3779b9) | 0;
    let t = a ^ (a >>> 16);
    t = Math.imul(t, 0x21f0aaad);
    t = t ^ (t >>> 15);
    t = Math.imul(t, 0x735a2d97);
    return (t ^ (t >>> 15)) >>> 0;
  };
}

export class Rng {
  private a: number;
  private b: number;
  private c: number;
  private d: number;
  private spare: number | null = null;

  constructor(seed: number) {
    const s = splitmix32(seed >>> 0);
    this.a = s();
    this.b = s();
    this.c = s();
    this.d = s();
    for (let i = 0; i < 12; i++) this.u32();
  }

  /** sfc32: fast, passes PractRand, and is exactly reproducible in JavaScript integer math. */
  u32(): number {
    const t = (((this.a + this.b) | 0) + this.d) | 0;
    this.d = (this.d + 1) | 0;
    this.a = this.b ^ (this.b >>> 9);
    this.b = (this.c + (this.c << 3)) | 0;
    this.c = (this.c << 21) | (this.c >>> 11);
    this.c = (this.c + t) | 0;
    return t >>> 0;
  }

  /** Uniform in [0, 1). */
  next(): number {
    return this.u32() / 4294967296;
  }

  /** Uniform integer in [0, n). */
  int(n: number): number {
    return Math.floor(this.next() * n);
  }

  /** Uniform integer in [lo, hi] inclusive. */
  range(lo: number, hi: number): number {
    return lo + this.int(hi - lo + 1);
  }

  pick<T>(xs: readonly T[]): T {
    return xs[this.int(xs.length)];
  }

  chance(p: number): boolean {
    return this.next() < p;
  }

  /** Standard normal (Box-Muller). */
  normal(): number {
    if (this.spare !== null) {
      const v = this.spare;
      this.spare = null;
      return v;
    }
    let u = 0;
    while (u === 0) u = this.next();
    const v = this.next();
    const r = Math.sqrt(-2 * Math.log(u));
    this.spare = r * Math.sin(2 * Math.PI * v);
    return r * Math.cos(2 * Math.PI * v);
  }

  shuffle<T>(xs: T[]): T[] {
    for (let i = xs.length - 1; i > 0; i--) {
      const j = this.int(i + 1);
      [xs[i], xs[j]] = [xs[j], xs[i]];
    }
    return xs;
  }

  /** k distinct indices from [0, n). */
  sample(n: number, k: number): number[] {
    if (k > n) throw new Error(`cannot sample ${k} distinct items from ${n}`);
    const chosen = new Set<number>();
    while (chosen.size < k) chosen.add(this.int(n));
    return [...chosen];
  }
}

/** Sampler over a list whose i-th entry has weight 1/(i+1)^s (Zipf's law; s = 1 for word frequencies). */
export class Zipf<T> {
  private readonly cdf: Float64Array;
  constructor(
    readonly items: readonly T[],
    s = 1,
  ) {
    if (items.length === 0) throw new Error("Zipf over an empty list");
    this.cdf = new Float64Array(items.length);
    let acc = 0;
    for (let i = 0; i < items.length; i++) {
      acc += 1 / Math.pow(i + 1, s);
      this.cdf[i] = acc;
    }
    for (let i = 0; i < items.length; i++) this.cdf[i] /= acc;
  }
  draw(rng: Rng): T {
    const u = rng.next();
    let lo = 0;
    let hi = this.cdf.length - 1;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (this.cdf[mid] > u) hi = mid;
      else lo = mid + 1;
    }
    return this.items[lo];
  }
}
