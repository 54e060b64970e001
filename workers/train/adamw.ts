/**
 * AdamW on Float32Arrays with global-norm gradient clipping. Weight decay applies to matrices only
 * (norm weights are scales, decaying them toward 0 would fight the normalisation).
 */
export interface AdamWOptions {
  beta1: number;
  beta2: number;
  eps: number;
  weightDecay: number;
  clip: number;
}

export class AdamW {
  private m = new Map<string, Float32Array>();
  private v = new Map<string, Float32Array>();
  private t = 0;

  constructor(
    private readonly opts: AdamWOptions,
    private readonly decays: (name: string) => boolean,
  ) {}

  /** Updates weights in place; returns the gradient norm before clipping. */
  step(weights: Map<string, Float32Array>, grads: Map<string, Float32Array>, lr: number): number {
    let sq = 0;
    for (const g of grads.values()) for (let i = 0; i < g.length; i++) sq += g[i] * g[i];
    const norm = Math.sqrt(sq);
    const scale = norm > this.opts.clip ? this.opts.clip / norm : 1;
    this.t++;
    const { beta1, beta2, eps, weightDecay } = this.opts;
    const bc1 = 1 - Math.pow(beta1, this.t);
    const bc2 = 1 - Math.pow(beta2, this.t);
    for (const [name, w] of weights) {
      const g = grads.get(name);
      if (!g) throw new Error(`no gradient for ${name}`);
      let m = this.m.get(name);
      let v = this.v.get(name);
      if (!m || !v) {
        m = new Float32Array(w.length);
        v = new Float32Array(w.length);
        this.m.set(name, m);
        this.v.set(name, v);
      }
      const decay = this.decays(name) ? 1 - lr * weightDecay : 1;
      const stepSize = lr / bc1;
      const invBc2 = 1 / bc2;
      for (let i = 0; i < w.length; i++) {
        const gi = g[i] * scale;
        const mi = (m[i] = beta1 * m[i] + (1 - beta1) * gi);
        const vi = (v[i] = beta2 * v[i] + (1 - beta2) * gi * gi);
        w[i] = w[i] * decay - (stepSize * mi) / (Math.sqrt(vi * invBc2) + eps);
      }
    }
    return norm;
  }
}

/** Linear warmup to peak, then cosine decay to minRatio * peak at the last step. */
export function lrAt(step: number, total: number, peak: number, warmup: number, minRatio: number): number {
  if (step < warmup) return (peak * (step + 1)) / warmup;
  const p = Math.min(1, (step - warmup) / Math.max(1, total - warmup));
  return peak * (minRatio + (1 - minRatio) * 0.5 * (1 + Math.cos(Math.PI * p)));
}
