/**
 * The decoder of docs/decoder.md written as an ONNX graph with static shapes [batch, seq]: the
 * training-step graph (inputs: every weight, input_ids, targets, loss weights; outputs: the loss and
 * the gradient of every weight) and a forward-only graph (logits) that the tests compare with the
 * exported model.
 */
import { DataType } from "../onnx/model-io";
import { decoderWeightShapes, headDim, isNormWeight, type DecoderConfig } from "../onnx/decoder-config";
import { GraphBuilder } from "./graph";
import { Rng } from "../data/rng";

export type Weights = Map<string, Float32Array>;

/** Finite stand-in for -inf in the causal mask (docs/decoder.md: lowest/2 of the dtype). */
const MASK_NEG = -1.7014117e38;

/** cos and sin of the rotary angles for positions 0..T-1, shaped [T, 1, head_dim]. */
export function rotaryTables(cfg: DecoderConfig, T: number): { cos: Float32Array; sin: Float32Array } {
  const hd = headDim(cfg);
  const cos = new Float32Array(T * hd);
  const sin = new Float32Array(T * hd);
  for (let t = 0; t < T; t++)
    for (let i = 0; i < hd; i++) {
      const j = i % (hd / 2);
      const invFreq = Math.pow(cfg.rope_theta, (-2 * j) / hd);
      // float32 angle, as the exported graph computes it
      const angle = Math.fround(Math.fround(t) * Math.fround(invFreq));
      cos[t * hd + i] = Math.cos(angle);
      sin[t * hd + i] = Math.sin(angle);
    }
  return { cos, sin };
}

export interface StepGraph {
  bytes: Uint8Array;
  weightNames: string[];
  batch: number;
  seq: number;
}

/**
 * Builds the graph. mode "train": outputs `loss` and `grad.<weight>`; mode "forward": outputs
 * `logits` [batch*seq, vocab] and `loss`.
 */
export function buildDecoderGraph(cfg: DecoderConfig, batch: number, seq: number, mode: "train" | "forward"): StepGraph {
  const g = new GraphBuilder();
  const B = batch;
  const T = seq;
  const N = B * T;
  const V = cfg.vocab_size;
  const nh = cfg.num_heads;
  const nkv = cfg.num_kv_heads;
  const hd = headDim(cfg);
  const grp = nh / nkv;
  const shapes = decoderWeightShapes(cfg);
  const weightNames = [...shapes.keys()];
  for (const [name, shape] of shapes) g.input(name, shape, DataType.FLOAT, mode === "train");
  const ids = g.input("input_ids", [N], DataType.INT64);
  const targets = g.input("targets", [N], DataType.INT64);
  const lossW = g.input("loss_weights", [N, 1]);

  const depth = g.constI64([V], [1]);
  const onOff = g.constF([0, 1], [2]);
  const onehotIn = g.raw("OneHot", [ids, depth, onOff], [N, V], [], "onehot_in");
  const onehotTgt = g.raw("OneHot", [targets, depth, onOff], [N, V], [], "onehot_tgt");

  const { cos, sin } = rotaryTables(cfg, T);
  const cosC = g.constF(cos, [T, 1, hd], "rotary_cos");
  const sinC = g.constF(sin, [T, 1, hd], "rotary_sin");
  const mask = new Float32Array(grp * T * T);
  for (let r = 0; r < grp * T; r++) for (let s = 0; s < T; s++) mask[r * T + s] = s <= r % T ? 0 : MASK_NEG;
  const maskC = g.constF(mask, [grp * T, T], "causal_mask");
  const scale = g.constF([1 / Math.sqrt(hd)], [1], "attn_scale");

  let x = g.gather("embed_tokens.weight", ids, onehotIn);
  for (let i = 0; i < cfg.num_layers; i++) {
    const p = `layers.${i}`;
    const h = g.rmsnorm(x, `${p}.input_layernorm.weight`, cfg.rms_eps);
    const q = g.gemm(h, `${p}.self_attn.q_proj.weight`);
    const k = g.gemm(h, `${p}.self_attn.k_proj.weight`);
    const v = g.gemm(h, `${p}.self_attn.v_proj.weight`);
    const qh = g.transpose(g.rotary(g.reshape(q, [B, T, nh, hd]), cosC, sinC), [0, 2, 1, 3]);
    const kh = g.transpose(g.rotary(g.reshape(k, [B, T, nkv, hd]), cosC, sinC), [0, 2, 1, 3]);
    const vh = g.transpose(g.reshape(v, [B, T, nkv, hd]), [0, 2, 1, 3]);
    // grouped-query attention without repeating k/v: the query heads of one kv head form one block
    const qg = g.reshape(qh, [B, nkv, grp * T, hd]);
    const scores = g.add(g.mul(g.matmul(qg, g.transpose(kh, [0, 1, 3, 2])), scale), maskC);
    const o = g.matmul(g.softmax(scores), vh);
    const merged = g.reshape(g.transpose(g.reshape(o, [B, nh, T, hd]), [0, 2, 1, 3]), [N, nh * hd]);
    x = g.add(x, g.gemm(merged, `${p}.self_attn.o_proj.weight`));
    const h2 = g.rmsnorm(x, `${p}.post_attention_layernorm.weight`, cfg.rms_eps);
    const act = g.swiglu(g.gemm(h2, `${p}.mlp.gate_proj.weight`), g.gemm(h2, `${p}.mlp.up_proj.weight`));
    x = g.add(x, g.gemm(act, `${p}.mlp.down_proj.weight`));
  }
  const xf = g.rmsnorm(x, "norm.weight", cfg.rms_eps);
  const logits = cfg.tie_embeddings ? g.gemm(xf, "embed_tokens.weight", false, true) : g.gemm(xf, "lm_head.weight");
  const loss = g.crossEntropy(logits, onehotTgt, lossW);
  g.expose(loss, "loss");
  if (mode === "forward") g.expose(logits, "logits");
  else {
    const grads = g.backward(loss, weightNames);
    for (const name of weightNames) g.expose(grads.get(name)!, `grad.${name}`);
  }
  return { bytes: g.toBytes(`decoder_${mode}`), weightNames, batch, seq };
}

/**
 * Seeded initialisation: norms at 1, other weights N(0, 0.02^2), with the residual output projections
 * (o_proj, down_proj) scaled by 1/sqrt(2 * layers) as in GPT-2 so deeper stacks start stable.
 */
export function initWeights(cfg: DecoderConfig, seed: number): Weights {
  const rng = new Rng(seed);
  const out: Weights = new Map();
  const residualScale = 1 / Math.sqrt(2 * cfg.num_layers);
  for (const [name, shape] of decoderWeightShapes(cfg)) {
    const n = shape.reduce((p, d) => p * d, 1);
    const w = new Float32Array(n);
    if (isNormWeight(name)) w.fill(1);
    else {
      const std = 0.02 * (/(o_proj|down_proj)\.weight$/.test(name) ? residualScale : 1);
      for (let i = 0; i < n; i++) w[i] = rng.normal() * std;
    }
    out.set(name, w);
  }
  return out;
}
