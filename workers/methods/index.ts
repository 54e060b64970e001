/**
 * Executor catalog: registry id (lib/methods) -> lazily imported module. Loading a method pulls in
 * only its own code, so a run of one method never pays for the others. A method listed in the
 * registry but absent here is reported as not implemented by executeJob.
 */
import type { MethodExecutor } from "./types";

type Loader = () => Promise<{ default: MethodExecutor<never> }>;

export const EXECUTORS: Readonly<Record<string, Loader>> = {
  baseline: () => import("./baseline"),
  "quant.rtn": () => import("./quantization/rtn"),
  "quant.gptq": () => import("./quantization/gptq"),
  "quant.awq": () => import("./quantization/awq"),
  "quant.smoothquant": () => import("./quantization/smoothquant"),
  "quant.hqq": () => import("./quantization/hqq"),
  "spec.draft": () => import("./speculative/draft"),
  "spec.prompt-lookup": () => import("./speculative/prompt-lookup"),
  "prune.magnitude": () => import("./pruning/magnitude"),
  "prune.wanda": () => import("./pruning/wanda"),
  "prune.sparsegpt": () => import("./pruning/sparsegpt"),
  "prune.structured": () => import("./pruning/structured"),
  "prune.layer-drop": () => import("./pruning/layer-drop"),
  "tokens.streaming-llm": () => import("./tokens/streaming-llm"),
  "tokens.h2o": () => import("./tokens/h2o"),
  "tokens.snapkv": () => import("./tokens/snapkv"),
  "tokens.prompt-compress": () => import("./tokens/prompt-compress"),
};

export async function loadExecutor(methodId: string): Promise<MethodExecutor<Record<string, unknown>>> {
  const load = EXECUTORS[methodId];
  if (!load) throw new Error(`method "${methodId}" has no executor in this worker (not implemented)`);
  const mod = await load();
  return mod.default as unknown as MethodExecutor<Record<string, unknown>>;
}
