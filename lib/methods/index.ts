import type { MethodDef } from "./types";
import { baseline } from "./baseline";
import { quantRtn, quantGptq, quantAwq, quantSmoothquant, quantHqq } from "./quantization";
import { pruneMagnitude, pruneWanda, pruneSparsegpt, pruneStructured, pruneLayerDrop } from "./pruning";
import { tokensStreamingLlm, tokensH2o, tokensSnapkv, tokensPromptCompress } from "./tokens";
import { specDraft, specPromptLookup } from "./speculative";

export * from "./types";

/** The method registry: single source of truth for the API, the submission form and the worker. */
export const METHODS: readonly MethodDef[] = [
  baseline,
  quantRtn,
  quantGptq,
  quantAwq,
  quantSmoothquant,
  quantHqq,
  pruneMagnitude,
  pruneWanda,
  pruneSparsegpt,
  pruneStructured,
  pruneLayerDrop,
  tokensStreamingLlm,
  tokensH2o,
  tokensSnapkv,
  tokensPromptCompress,
  specDraft,
  specPromptLookup,
];

const byId = new Map(METHODS.map((m) => [m.id, m]));

export function getMethod(id: string): MethodDef | undefined {
  return byId.get(id);
}
