/**
 * Metric keys: the single list of summary metrics a run can carry, with unit, label, direction and
 * group. The unit is part of the key's name where it has one (prefill_ms, model_bytes).
 */
import type { DatasetTask } from "../domain";
export type MetricDirection = "higher" | "lower";
export type MetricGroup = "quality" | "latency" | "memory" | "method";
export type MetricUnit = "" | "ratio" | "ms" | "tokens/s" | "bytes" | "bits" | "x" | "tokens" | "bits/byte";

export interface MetricDef {
  key: string;
  label: string;
  unit: MetricUnit;
  direction: MetricDirection;
  group: MetricGroup;
  description: string;
  /**
   * Set on the bounds of a 95% confidence interval: the parent metric's key (speedup_lo and
   * speedup_hi have intervalOf "speedup"). Pickers and column lists leave these out; charts draw
   * them as the parent's error bars.
   */
  intervalOf?: string;
  bound?: "lo" | "hi";
}

const def = (key: string, label: string, unit: MetricUnit, direction: MetricDirection, group: MetricGroup, description: string): MetricDef => ({
  key,
  label,
  unit,
  direction,
  group,
  description,
});

/** The lower and upper 95% bounds of `parent` (docs/measurement.md, Speed, says how each is computed). */
const bounds = (parent: MetricDef): MetricDef[] =>
  (["lo", "hi"] as const).map((bound) => ({
    ...parent,
    key: `${parent.key}_${bound}`,
    label: `${parent.label} (95% ${bound === "lo" ? "lower" : "upper"} bound)`,
    description: `${bound === "lo" ? "Lower" : "Upper"} end of the 95% confidence interval of ${parent.key}.`,
    intervalOf: parent.key,
    bound,
  }));

const prefill = def("prefill_ms", "Prefill", "ms", "lower", "latency", "Median wall time to process the prompt (stated length) and produce the first logits.");
const decode = def("decode_ms_per_token", "Decode per token", "ms", "lower", "latency", "Median wall time of one cached decode step.");
const speedup = def(
  "speedup",
  "Speedup",
  "x",
  "higher",
  "latency",
  "Base model's median decode_ms_per_token divided by this run's, both measured in this run, request by request interleaved.",
);

export const METRICS: readonly MetricDef[] = [
  def("accuracy", "Accuracy", "ratio", "higher", "quality", "Fraction of examples answered correctly (multiple choice by log-likelihood)."),
  def("exact_match", "Exact match", "ratio", "higher", "quality", "Fraction of generations equal to the reference answer."),
  def("perplexity", "Perplexity", "", "lower", "quality", "exp(mean token-level negative log-likelihood) on the evaluation text."),
  def("bits_per_byte", "Bits per byte", "bits/byte", "lower", "quality", "Total NLL in bits divided by the UTF-8 bytes of the evaluation text."),
  def("quality_delta", "Quality delta", "", "higher", "quality", "Primary quality metric minus the baseline's, signed so that higher is better."),
  prefill,
  ...bounds(prefill),
  decode,
  ...bounds(decode),
  def("latency_ms_p50", "Latency p50", "ms", "lower", "latency", "Median end-to-end latency of one request (prefill + decode of the stated tokens)."),
  def("latency_ms_p95", "Latency p95", "ms", "lower", "latency", "95th percentile end-to-end latency of one request (only with 20 or more timed requests)."),
  def("tokens_per_s", "Tokens per second", "tokens/s", "higher", "latency", "Decode throughput: 1000 / decode_ms_per_token."),
  speedup,
  ...bounds(speedup),
  def("model_bytes", "Model size", "bytes", "lower", "memory", "Size of the model file(s) on disk."),
  def("weights_bytes", "Weights in memory", "bytes", "lower", "memory", "Bytes of all initializers as stored in the graph."),
  def("kv_cache_bytes", "KV cache", "bytes", "lower", "memory", "Bytes of the key/value cache at the benchmarked context length."),
  def(
    "peak_rss_bytes",
    "Peak RSS",
    "bytes",
    "lower",
    "memory",
    "Peak resident set size of a fresh process that loads only this model and runs benchmark requests.",
  ),
  def("gpu_buffer_bytes", "GPU buffers", "bytes", "lower", "memory", "Bytes of GPU buffers held by the WebGPU session."),
  def("memory_bytes", "Memory", "bytes", "lower", "memory", "Total memory attributed to the run (weights plus KV cache)."),
  def(
    "bits_effective",
    "Effective bits (stored)",
    "bits",
    "lower",
    "method",
    "Bits per weight the model file holds: codes as stored (2- and 3-bit codes sit in 4-bit containers where no 2/3-bit kernel exists), scales and zero points.",
  ),
  def(
    "bits_packed",
    "Effective bits (packed codes)",
    "bits",
    "lower",
    "method",
    "Bits per weight with the codes packed densely at their own width (2, 3, 4 or 8), scales and zero points as stored: the information the weights carry; compare with the stored bits.",
  ),
  def("sparsity", "Sparsity", "ratio", "higher", "method", "Fraction of weights that are zero."),
  def(
    "sparsity_overall",
    "Overall sparsity",
    "ratio",
    "higher",
    "method",
    "Fraction of all model parameters (embedding, head and norms included) that are zero or removed.",
  ),
  def("params_remaining", "Parameters remaining", "", "lower", "method", "Nonzero parameters of the whole model."),
  def("layers_removed", "Layers removed", "", "higher", "method", "Decoder layers removed by layer-drop pruning."),
  def("heads_removed", "Heads removed", "", "higher", "method", "Query heads removed by structured pruning (kv groups whole)."),
  def("neurons_removed", "Neurons removed", "", "higher", "method", "MLP neurons removed by structured pruning."),
  def("compression_ratio", "Compression ratio", "x", "higher", "method", "Baseline model bytes divided by this run's."),
  def("kept_token_ratio", "Kept token ratio", "ratio", "lower", "method", "Fraction of prompt or cache tokens kept."),
  def("acceptance_rate", "Acceptance rate", "ratio", "higher", "method", "Fraction of drafted tokens accepted by the target model."),
  def(
    "mean_accepted_tokens",
    "Mean accepted tokens",
    "tokens",
    "higher",
    "method",
    "Tokens emitted per target forward, accepted drafts plus the target's own token (1.00 for plain decoding).",
  ),
  def("spec_alpha", "Token acceptance (α)", "ratio", "higher", "method", "Per-position draft acceptance: accepted / (accepted + first rejections)."),
  def(
    "output_matches_target",
    "Output matches target",
    "ratio",
    "higher",
    "method",
    "1 when greedy speculative output was token-for-token identical to plain greedy decoding of the target.",
  ),
  def("draft_cost_ratio", "Draft cost ratio (c)", "ratio", "lower", "method", "Median draft step time divided by the target's median one-token step."),
  def(
    "predicted_speedup",
    "Predicted speedup",
    "x",
    "higher",
    "method",
    "Leviathan et al.'s (1 - α^(γ+1)) / (1 - α) / (γc + 1) from this run's α, γ and c, beside the measured speedup.",
  ),
];

export const METRIC_KEYS = METRICS.map((m) => m.key);

/**
 * The quality metric a dataset task is scored by (quality_delta is computed on it): perplexity for
 * text, accuracy for multiple choice, exact match for the generation tasks.
 */
export function primaryQualityMetric(task: DatasetTask): "perplexity" | "exact_match" | "accuracy" {
  return task === "perplexity" ? "perplexity" : task === "multiple-choice" ? "accuracy" : "exact_match";
}

/** `y=primary` on GET /api/v1/pareto: the primary quality metric of the shown context's dataset. */
export const PRIMARY_QUALITY = "primary";
const byKey = new Map(METRICS.map((m) => [m.key, m]));

/**
 * Evaluation settings a Frontier worker records with every executed run, as run metrics, so that a
 * run is only ever compared with a baseline measured the same way (db/queries/leases/baseline-for.ts).
 * They describe how a run was measured, not what it measured.
 */
export const EVAL_SETTING_KEYS = ["eval_max_examples", "eval_max_tokens_per_text", "bench_prompt_length", "bench_decode_tokens"] as const;
export type EvalSettingKey = (typeof EVAL_SETTING_KEYS)[number];

/** The evaluation settings among a run's metrics (absent keys left out). */
export function evalSettingsOf(metrics: Readonly<Record<string, number>>): Partial<Record<EvalSettingKey, number>> {
  const out: Partial<Record<EvalSettingKey, number>> = {};
  for (const k of EVAL_SETTING_KEYS) if (typeof metrics[k] === "number") out[k] = metrics[k];
  return out;
}

/** "bench_decode_tokens 16 vs 32" for each setting on which two runs' metrics differ (absent differs from any value). */
export function evalSettingsDiff(a: Readonly<Record<string, number>>, b: Readonly<Record<string, number>>): string[] {
  return EVAL_SETTING_KEYS.filter((k) => a[k] !== b[k]).map((k) => `${k} ${a[k] ?? "unset"} vs ${b[k] ?? "unset"}`);
}

/** Whether a picker or a column list should leave `key` out: an interval bound or an evaluation setting. */
export function isAuxiliaryMetric(key: string): boolean {
  return byKey.get(key)?.intervalOf !== undefined || (EVAL_SETTING_KEYS as readonly string[]).includes(key);
}

/** The metrics a picker or a column list offers. */
export const PICKABLE_METRICS: readonly MetricDef[] = METRICS.filter((m) => !isAuxiliaryMetric(m.key));

export function getMetric(key: string): MetricDef | undefined {
  return byKey.get(key);
}

/** Direction of a metric; keys Frontier does not know (logged by outside scripts) default to higher. */
export function metricDirection(key: string): MetricDirection {
  return byKey.get(key)?.direction ?? "higher";
}

/** Metric names: letters, digits, underscore, dot, slash and dash (so they survive URLs and CSV headers). */
export const METRIC_KEY_PATTERN = /^[A-Za-z][A-Za-z0-9_./-]{0,63}$/;

export function formatMetric(key: string, value: number | null | undefined): string {
  if (value === null || value === undefined || !Number.isFinite(value)) return "—";
  const unit = byKey.get(key)?.unit ?? "";
  switch (unit) {
    case "bytes": {
      const units = ["B", "KB", "MB", "GB", "TB"];
      let v = value;
      let i = 0;
      while (Math.abs(v) >= 1000 && i < units.length - 1) {
        v /= 1000;
        i++;
      }
      return `${v.toFixed(v >= 100 || i === 0 ? 0 : 2)} ${units[i]}`;
    }
    case "ms":
      return `${value < 10 ? value.toFixed(3) : value.toFixed(1)} ms`;
    case "ratio":
      return value.toFixed(4);
    case "x":
      return `${value.toFixed(2)}×`;
    case "tokens/s":
      return `${value.toFixed(1)} tok/s`;
    case "bits":
      return `${value.toFixed(2)} bits`;
    default:
      // Counts (layers or heads removed, parameters remaining, tokens) are whole numbers: shown as such, grouped.
      if (Number.isInteger(value)) return value.toLocaleString("en-US");
      return Math.abs(value) >= 1000 || Math.abs(value) < 0.01 ? value.toPrecision(4) : value.toFixed(4);
  }
}
