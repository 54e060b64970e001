import { z } from "zod";
import { defineMethod } from "./types";

export const tokensStreamingLlm = defineMethod({
  id: "tokens.streaming-llm",
  family: "tokens",
  label: "StreamingLLM",
  summary: "Keep attention-sink tokens plus a sliding window of recent tokens in the KV cache.",
  paper: { title: "Efficient Streaming Language Models with Attention Sinks", arxiv: "2309.17453" },
  params: z.strictObject({
    sink_tokens: z.number().int().min(0).max(64).default(4),
    window: z.number().int().min(4).max(8192).default(64),
  }),
  implemented: true,
});

export const tokensH2o = defineMethod({
  id: "tokens.h2o",
  family: "tokens",
  label: "H2O",
  summary: "Evict KV entries by accumulated attention, keeping heavy hitters and recent tokens.",
  paper: { title: "H2O: Heavy-Hitter Oracle for Efficient Generative Inference of Large Language Models", arxiv: "2306.14048" },
  params: z.strictObject({
    budget: z.number().int().min(4).max(8192).default(64).describe("KV entries kept per layer"),
    recent_ratio: z.number().min(0).max(1).default(0.5).describe("Share of the budget reserved for recent tokens"),
  }),
  implemented: true,
});

export const tokensSnapkv = defineMethod({
  id: "tokens.snapkv",
  family: "tokens",
  label: "SnapKV",
  summary: "Select prompt KV entries by the attention of an observation window at the prompt's end.",
  paper: { title: "SnapKV: LLM Knows What You are Looking for Before Generation", arxiv: "2404.14469" },
  params: z.strictObject({
    budget: z.number().int().min(4).max(8192).default(64),
    window: z.number().int().min(1).max(256).default(16),
    kernel: z.number().int().min(1).max(31).default(5).describe("Pooling kernel over attention scores"),
  }),
  implemented: true,
});

export const tokensPromptCompress = defineMethod({
  id: "tokens.prompt-compress",
  family: "tokens",
  label: "Prompt compression",
  summary: "LLMLingua-style: drop prompt tokens with the lowest surprisal under a small model.",
  paper: { title: "LLMLingua: Compressing Prompts for Accelerated Inference of Large Language Models", arxiv: "2310.05736" },
  params: z.strictObject({
    ratio: z.number().min(0.05).max(1).default(0.5).describe("Fraction of prompt tokens kept"),
    compressor_model: z.string().min(1).default("zoo-small").describe("Model id of the small model that scores surprisal"),
  }),
  models: (p) => [p.compressor_model],
  implemented: true,
});
