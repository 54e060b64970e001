import { z } from "zod";
import { defineMethod } from "./types";

const verification = z.enum(["greedy", "sampling"]).default("greedy");

export const specDraft = defineMethod({
  id: "spec.draft",
  family: "speculative",
  label: "Draft model",
  summary: "A small draft model proposes tokens that the target verifies in one pass.",
  paper: { title: "Fast Inference from Transformers via Speculative Decoding", arxiv: "2211.17192" },
  params: z.strictObject({
    draft_model: z.string().min(1).default("zoo-draft").describe("Model id of the draft"),
    gamma: z.number().int().min(1).max(16).default(4).describe("Tokens drafted per step"),
    verification,
    temperature: z.number().min(0).max(2).default(1).describe("Sampling temperature of target and draft (sampling verification only)"),
  }),
  implemented: true,
  models: (p) => [p.draft_model],
});

export const specPromptLookup = defineMethod({
  id: "spec.prompt-lookup",
  family: "speculative",
  label: "Prompt lookup",
  summary: "Draft tokens by matching the last n-gram against the prompt, then verify with the target.",
  paper: { title: "Inference with Reference: Lossless Acceleration of Large Language Models", arxiv: "2304.04487" },
  params: z.strictObject({
    ngram: z.number().int().min(1).max(8).default(3).describe("Longest n-gram matched (then n - 1 down to 1)"),
    gamma: z.number().int().min(1).max(16).default(4).describe("Most tokens drafted per step"),
    verification,
    temperature: z.number().min(0).max(2).default(1).describe("Sampling temperature of the target (sampling verification only)"),
  }),
  implemented: true,
});
