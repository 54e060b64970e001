import { z } from "zod";
import { defineMethod } from "./types";
import { bits, groupSize, calibSamples } from "./common";

const format = z
  .enum(["auto", "matmulnbits", "qdq"])
  .default("auto")
  .describe("auto: MatMulNBits where the runtime has a fused kernel (4/8-bit on cpu/webgpu), else DequantizeLinear");
const accuracyLevel = z
  .union([z.literal(0), z.literal(4)])
  .default(0)
  .describe(
    "Activations: 0 = float (weight-only, WnA16 as in the GPTQ/AWQ/HQQ papers; the default), 4 = int8 per block inside MatMulNBits (WnA8, its own format; the fast cpu path, 4/8-bit matmulnbits only)",
  );
const quantizeHead = z
  .boolean()
  .default(false)
  .describe("Also quantize the output head (LM head); the references keep it, like the embedding, in full precision");

export const quantRtn = defineMethod({
  id: "quant.rtn",
  family: "quantization",
  label: "RTN",
  summary: "Round-to-nearest weight quantization of every MatMul/Gemm weight, per channel or grouped along K.",
  paper: { title: "The case for 4-bit precision: k-bit Inference Scaling Laws", arxiv: "2212.09720" },
  params: z.strictObject({
    bits,
    group_size: groupSize,
    symmetric: z.boolean().default(false).describe("Symmetric (no zero point) or asymmetric"),
    keep_layers: z.array(z.string().min(1)).default([]).describe("Weight names (substring match) kept in full precision"),
    format,
    accuracy_level: accuracyLevel,
    quantize_head: quantizeHead,
  }),
  implemented: true,
});

export const quantGptq = defineMethod({
  id: "quant.gptq",
  family: "quantization",
  label: "GPTQ",
  summary: "Column-by-column quantization with second-order (Hessian) error feedback from calibration activations.",
  paper: { title: "GPTQ: Accurate Post-Training Quantization for Generative Pre-trained Transformers", arxiv: "2210.17323" },
  params: z.strictObject({
    bits,
    group_size: groupSize,
    symmetric: z.boolean().default(false),
    act_order: z.boolean().default(false).describe("Quantize columns in order of decreasing Hessian diagonal"),
    damp: z.number().min(0.0001).max(0.5).default(0.01).describe("Damping as a fraction of mean(diag H)"),
    block_size: z.number().int().min(8).max(1024).default(128),
    sequential: z
      .boolean()
      .default(true)
      .describe(
        "Calibrate each decoder layer on the outputs of the already-quantized layers before it (the reference's order); false: one pass over the float model",
      ),
    calib_samples: calibSamples,
    format,
    accuracy_level: accuracyLevel,
    quantize_head: quantizeHead,
  }),
  implemented: true,
  calibrates: () => true,
});

export const quantAwq = defineMethod({
  id: "quant.awq",
  family: "quantization",
  label: "AWQ",
  summary:
    "Activation-aware per-input-channel scaling grid-searched on each block's output and folded into the graph, then per-group weight clipping, before asymmetric grouped quantization.",
  paper: { title: "AWQ: Activation-aware Weight Quantization for LLM Compression and Acceleration", arxiv: "2306.00978" },
  params: z.strictObject({
    bits,
    group_size: groupSize,
    alpha_grid: z.number().int().min(2).max(100).default(20).describe("Grid points for alpha in [0, 1): alpha = i / alpha_grid"),
    auto_clip: z.boolean().default(true).describe("Search a clipping range per output channel and group (the reference's auto_clip; q/k are not clipped)"),
    // llm-awq's n_samples. On zoo-base with 32 x 128 tokens AWQ's 4-bit perplexity was within noise of RTN's, and above it.
    calib_samples: z
      .number()
      .int()
      .min(1)
      .max(512)
      .default(128)
      .describe("Calibration sequences drawn (seeded) from the dataset's validation split (128 as the reference; fewer when the split is shorter)"),
    format,
    accuracy_level: accuracyLevel,
    quantize_head: quantizeHead,
  }),
  implemented: true,
  calibrates: () => true,
});

export const quantSmoothquant = defineMethod({
  id: "quant.smoothquant",
  family: "quantization",
  label: "SmoothQuant",
  summary: "W8A8: migrate activation outliers into the weights, then int8 weights and run-time int8 activations.",
  paper: { title: "SmoothQuant: Accurate and Efficient Post-Training Quantization for Large Language Models", arxiv: "2211.10438" },
  params: z.strictObject({
    alpha: z.number().min(0).max(1).default(0.5).describe("Migration strength"),
    smoothing: z.boolean().default(true).describe("false: plain W8A8 with the same quantizers and no scale migration, to show what smoothing buys"),
    act_quant: z
      .enum(["per-token", "per-tensor"])
      .default("per-token")
      .describe("Run-time activation quantization: symmetric absmax int8 per token (the reference's default) or per tensor"),
    calib_samples: calibSamples,
  }),
  implemented: true,
  calibrates: (p) => p.smoothing,
});

export const quantHqq = defineMethod({
  id: "quant.hqq",
  family: "quantization",
  label: "HQQ",
  summary: "Calibration-free half-quadratic optimisation of zero points and scales.",
  paper: { title: "Half-Quadratic Quantization of Large Machine Learning Models", arxiv: null, url: "https://mobiusml.github.io/hqq_blog/" },
  params: z.strictObject({
    bits,
    group_size: groupSize,
    iters: z.number().int().min(1).max(200).default(20),
    lp_norm: z.number().min(0.1).max(1).default(0.7),
    format,
    accuracy_level: accuracyLevel,
    quantize_head: quantizeHead,
  }),
  implemented: true,
});
