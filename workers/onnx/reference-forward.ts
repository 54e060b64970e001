import { MASK_NEG, headDim, parseDecoderConfig, validateDecoderWeights, type DecoderConfig, type DecoderConfigInput } from "./decoder-config";

/**
 * The forward pass of docs/decoder.md written out plainly, in float64, with no ONNX involved.
 * It pins the ONNX builder and the trainer to the same math: both are compared against it.
 * Naive loops: meant for tiny configs in tests, not for speed.
 */

export interface ReferenceInputs {
  /** [batch][seq] token ids. */
  inputIds: number[][];
  /** [batch][past + seq]; 0 = padding. Default: all ones. */
  attentionMask?: number[][];
  /** [batch][seq]. Default: past .. past + seq - 1. */
  positionIds?: number[][];
  /** Per layer, float32 [batch, kv_heads, past, head_dim] (present.* of an earlier step). */
  past?: { key: Float32Array; value: Float32Array }[];
}

export interface ReferenceOutputs {
  /** [batch, seq, vocab] row-major. */
  logits: Float32Array;
  dims: [number, number, number];
  /** Per layer, [batch, kv_heads, past + seq, head_dim]. */
  presents: { key: Float32Array; value: Float32Array }[];
}

export function referenceForward(
  configInput: DecoderConfigInput | DecoderConfig,
  weights: Map<string, Float32Array>,
  inputs: ReferenceInputs,
): ReferenceOutputs {
  const c = parseDecoderConfig(configInput);
  validateDecoderWeights(c, weights);
  const B = inputs.inputIds.length;
  const T = inputs.inputIds[0]?.length ?? 0;
  if (B === 0 || T === 0) throw new Error("inputIds must be a non-empty [batch][seq] array");
  if (inputs.inputIds.some((r) => r.length !== T)) throw new Error("inputIds rows differ in length");
  const H = c.hidden_size;
  const D = headDim(c);
  const nh = c.num_heads;
  const nkv = c.num_kv_heads;
  const rep = nh / nkv;
  const V = c.vocab_size;
  const I = c.intermediate_size;
  const P = inputs.past?.[0] ? inputs.past[0].key.length / (B * nkv * D) : 0;
  const S = P + T;
  const w = (name: string) => weights.get(name)!;

  const logits = new Float32Array(B * T * V);
  const presents = Array.from({ length: c.num_layers }, () => ({
    key: new Float32Array(B * nkv * S * D),
    value: new Float32Array(B * nkv * S * D),
  }));

  for (let b = 0; b < B; b++) {
    const mask = inputs.attentionMask?.[b] ?? new Array<number>(S).fill(1);
    if (mask.length !== S) throw new Error(`attentionMask[${b}] has ${mask.length} entries, expected past + seq = ${S}`);
    const pos = inputs.positionIds?.[b] ?? Array.from({ length: T }, (_, t) => P + t);

    let x: Float64Array = new Float64Array(T * H);
    const embed = w("embed_tokens.weight");
    for (let t = 0; t < T; t++) {
      const id = inputs.inputIds[b][t];
      if (!(id >= 0 && id < V)) throw new Error(`token id ${id} out of range [0, ${V})`);
      for (let j = 0; j < H; j++) x[t * H + j] = embed[id * H + j];
    }

    for (let l = 0; l < c.num_layers; l++) {
      const p = `layers.${l}`;
      const h = rmsnorm(x, T, H, w(`${p}.input_layernorm.weight`), c.rms_eps);
      const q = matmul(h, T, H, w(`${p}.self_attn.q_proj.weight`), nh * D);
      const k = matmul(h, T, H, w(`${p}.self_attn.k_proj.weight`), nkv * D);
      const v = matmul(h, T, H, w(`${p}.self_attn.v_proj.weight`), nkv * D);
      for (let t = 0; t < T; t++) {
        rotate(q, t * nh * D, nh, D, pos[t], c.rope_theta);
        rotate(k, t * nkv * D, nkv, D, pos[t], c.rope_theta);
      }

      // keys/values of past + current, [kv_head][S][D]
      const keys = new Float64Array(nkv * S * D);
      const values = new Float64Array(nkv * S * D);
      const past = inputs.past?.[l];
      for (let kh = 0; kh < nkv; kh++) {
        for (let s = 0; s < S; s++) {
          for (let d = 0; d < D; d++) {
            const dst = (kh * S + s) * D + d;
            if (s < P) {
              const src = ((b * nkv + kh) * P + s) * D + d;
              keys[dst] = past!.key[src];
              values[dst] = past!.value[src];
            } else {
              keys[dst] = k[(s - P) * nkv * D + kh * D + d];
              values[dst] = v[(s - P) * nkv * D + kh * D + d];
            }
            presents[l].key[((b * nkv + kh) * S + s) * D + d] = keys[dst];
            presents[l].value[((b * nkv + kh) * S + s) * D + d] = values[dst];
          }
        }
      }

      const merged = new Float64Array(T * nh * D);
      const scores = new Float64Array(S);
      const scale = 1 / Math.sqrt(D);
      for (let hh = 0; hh < nh; hh++) {
        const kh = Math.floor(hh / rep);
        for (let t = 0; t < T; t++) {
          let max = -Infinity;
          for (let s = 0; s < S; s++) {
            let dot = 0;
            for (let d = 0; d < D; d++) dot += q[t * nh * D + hh * D + d] * keys[(kh * S + s) * D + d];
            const visible = s <= P + t && mask[s] !== 0;
            scores[s] = dot * scale + (visible ? 0 : MASK_NEG);
            if (scores[s] > max) max = scores[s];
          }
          let sum = 0;
          for (let s = 0; s < S; s++) sum += scores[s] = Math.exp(scores[s] - max);
          for (let d = 0; d < D; d++) {
            let acc = 0;
            for (let s = 0; s < S; s++) acc += scores[s] * values[(kh * S + s) * D + d];
            merged[t * nh * D + hh * D + d] = acc / sum;
          }
        }
      }
      const attn = matmul(merged, T, nh * D, w(`${p}.self_attn.o_proj.weight`), H);
      x = add(x, attn);

      const h2 = rmsnorm(x, T, H, w(`${p}.post_attention_layernorm.weight`), c.rms_eps);
      const gate = matmul(h2, T, H, w(`${p}.mlp.gate_proj.weight`), I);
      const up = matmul(h2, T, H, w(`${p}.mlp.up_proj.weight`), I);
      for (let i = 0; i < gate.length; i++) gate[i] = (gate[i] / (1 + Math.exp(-gate[i]))) * up[i];
      x = add(x, matmul(gate, T, I, w(`${p}.mlp.down_proj.weight`), H));
    }

    const final = rmsnorm(x, T, H, w("norm.weight"), c.rms_eps);
    for (let t = 0; t < T; t++) {
      for (let o = 0; o < V; o++) {
        let acc = 0;
        if (c.tie_embeddings) for (let j = 0; j < H; j++) acc += final[t * H + j] * embed[o * H + j];
        else {
          const head = w("lm_head.weight");
          for (let j = 0; j < H; j++) acc += final[t * H + j] * head[j * V + o];
        }
        logits[(b * T + t) * V + o] = acc;
      }
    }
  }
  return { logits, dims: [B, T, V], presents };
}

function rmsnorm(x: Float64Array, rows: number, n: number, weight: Float32Array, eps: number): Float64Array {
  const out = new Float64Array(rows * n);
  for (let r = 0; r < rows; r++) {
    let ss = 0;
    for (let j = 0; j < n; j++) ss += x[r * n + j] * x[r * n + j];
    const inv = 1 / Math.sqrt(ss / n + eps);
    for (let j = 0; j < n; j++) out[r * n + j] = x[r * n + j] * inv * weight[j];
  }
  return out;
}

/** [rows, k] @ [k, n] with the weight in [in, out] layout. */
function matmul(a: Float64Array, rows: number, k: number, w: Float32Array, n: number): Float64Array {
  const out = new Float64Array(rows * n);
  for (let r = 0; r < rows; r++) {
    for (let i = 0; i < k; i++) {
      const av = a[r * k + i];
      for (let j = 0; j < n; j++) out[r * n + j] += av * w[i * n + j];
    }
  }
  return out;
}

function add(a: Float64Array, b: Float64Array): Float64Array {
  const out = new Float64Array(a.length);
  for (let i = 0; i < a.length; i++) out[i] = a[i] + b[i];
  return out;
}

/** Rotate-half rotary on `heads` consecutive head vectors starting at `offset`. */
function rotate(x: Float64Array, offset: number, heads: number, d: number, pos: number, theta: number): void {
  const half = d / 2;
  for (let h = 0; h < heads; h++) {
    const base = offset + h * d;
    for (let j = 0; j < half; j++) {
      const angle = pos * Math.pow(theta, (-2 * j) / d);
      const cos = Math.cos(angle);
      const sin = Math.sin(angle);
      const x1 = x[base + j];
      const x2 = x[base + half + j];
      x[base + j] = x1 * cos - x2 * sin;
      x[base + half + j] = x2 * cos + x1 * sin;
    }
  }
}
