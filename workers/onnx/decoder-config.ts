import { z } from "zod";

/** Masked scores get float32's lowest / 2: finite, so a fully padded row's softmax stays finite. */
export const MASK_NEG = -1.7014117331926443e38;

const positiveInt = z.number().int().min(1);

/** The one decoder architecture (docs/decoder.md); stored as config.json beside model.onnx. */
export const DecoderConfig = z
  .strictObject({
    vocab_size: z.number().int().min(2),
    num_layers: positiveInt,
    num_heads: positiveInt,
    num_kv_heads: positiveInt,
    hidden_size: positiveInt,
    intermediate_size: positiveInt,
    max_position: positiveInt,
    rope_theta: z.number().positive().default(10000),
    rms_eps: z.number().positive().default(1e-5),
    tie_embeddings: z.boolean().default(false),
  })
  .superRefine((c, ctx) => {
    if (c.hidden_size % c.num_heads !== 0) {
      ctx.addIssue({ code: "custom", path: ["hidden_size"], message: `hidden_size ${c.hidden_size} is not a multiple of num_heads ${c.num_heads}` });
      return;
    }
    if ((c.hidden_size / c.num_heads) % 2 !== 0) {
      ctx.addIssue({ code: "custom", path: ["num_heads"], message: `head_dim ${c.hidden_size / c.num_heads} must be even for rotary` });
    }
    if (c.num_heads % c.num_kv_heads !== 0) {
      ctx.addIssue({ code: "custom", path: ["num_kv_heads"], message: `num_heads ${c.num_heads} is not a multiple of num_kv_heads ${c.num_kv_heads}` });
    }
  });
export type DecoderConfig = z.output<typeof DecoderConfig>;
export type DecoderConfigInput = z.input<typeof DecoderConfig>;

/** Parses a config, throwing one error that names every bad field. */
export function parseDecoderConfig(value: unknown): DecoderConfig {
  const r = DecoderConfig.safeParse(value);
  if (!r.success) {
    const issues = r.error.issues.map((i) => `${i.path.join(".") || "(root)"}: ${i.message}`).join("; ");
    throw new Error(`invalid decoder config: ${issues}`);
  }
  return r.data;
}

export const headDim = (c: DecoderConfig) => c.hidden_size / c.num_heads;

/** Every weight of docs/decoder.md with its [in, out] shape, in a stable order. */
export function decoderWeightShapes(c: DecoderConfig): Map<string, number[]> {
  const hd = headDim(c);
  const H = c.hidden_size;
  const shapes = new Map<string, number[]>();
  shapes.set("embed_tokens.weight", [c.vocab_size, H]);
  for (let i = 0; i < c.num_layers; i++) {
    const p = `layers.${i}`;
    shapes.set(`${p}.input_layernorm.weight`, [H]);
    shapes.set(`${p}.self_attn.q_proj.weight`, [H, c.num_heads * hd]);
    shapes.set(`${p}.self_attn.k_proj.weight`, [H, c.num_kv_heads * hd]);
    shapes.set(`${p}.self_attn.v_proj.weight`, [H, c.num_kv_heads * hd]);
    shapes.set(`${p}.self_attn.o_proj.weight`, [c.num_heads * hd, H]);
    shapes.set(`${p}.post_attention_layernorm.weight`, [H]);
    shapes.set(`${p}.mlp.gate_proj.weight`, [H, c.intermediate_size]);
    shapes.set(`${p}.mlp.up_proj.weight`, [H, c.intermediate_size]);
    shapes.set(`${p}.mlp.down_proj.weight`, [c.intermediate_size, H]);
  }
  shapes.set("norm.weight", [H]);
  if (!c.tie_embeddings) shapes.set("lm_head.weight", [H, c.vocab_size]);
  return shapes;
}

/** Parameter count (tied embeddings counted once). */
export function decoderParamCount(c: DecoderConfig): number {
  let n = 0;
  for (const dims of decoderWeightShapes(c).values()) n += dims.reduce((p, d) => p * d, 1);
  return n;
}

/** Norm weights start at 1, every other weight is N(0, 0.02^2) in random initialisation. */
export const isNormWeight = (name: string) => name.endsWith("norm.weight");

/**
 * Checks a weights map against the config: every name present, none extra, every length right.
 * Throws one error listing all problems.
 */
export function validateDecoderWeights(c: DecoderConfig, weights: Map<string, Float32Array>): void {
  const shapes = decoderWeightShapes(c);
  const problems: string[] = [];
  const missing = [...shapes.keys()].filter((k) => !weights.has(k));
  const extra = [...weights.keys()].filter((k) => !shapes.has(k));
  if (missing.length) problems.push(`missing: ${missing.join(", ")}`);
  if (extra.length) problems.push(`unexpected: ${extra.join(", ")}${c.tie_embeddings && extra.includes("lm_head.weight") ? " (tie_embeddings is set)" : ""}`);
  for (const [name, dims] of shapes) {
    const w = weights.get(name);
    if (!w) continue;
    const n = dims.reduce((p, d) => p * d, 1);
    if (!(w instanceof Float32Array)) problems.push(`${name}: expected a Float32Array`);
    else if (w.length !== n) problems.push(`${name}: expected ${n} values for [${dims.join(", ")}], got ${w.length}`);
  }
  if (problems.length) throw new Error(`decoder weights do not match the config: ${problems.join("; ")}`);
}

/** Outputs `new_key_values.{layer}.key|value`: the keys and values of a call's own tokens. */
export const NEW_KV_PREFIX = "new_key_values.";
