/**
 * Metric keys: the single list of summary metrics a run can carry, with unit, label, direction and
 * group. The unit is part of the key's name where it has one (prefill_ms, model_bytes).
 */
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
}

const def = (
  key: string,
  label: string,
  unit: MetricUnit,
  direction: MetricDirection,
  group: MetricGroup,
  description: string,
): MetricDef => ({ key, label, unit, direction, group, description });

export const METRICS: readonly MetricDef[] = [
  def("accuracy", "Accuracy", "ratio", "higher", "quality", "Fraction of examples answered correctly (multiple choice by log-likelihood)."),
  def("exact_match", "Exact match", "ratio", "higher", "quality", "Fraction of generations equal to the reference answer."),
  def("perplexity", "Perplexity", "", "lower", "quality", "exp(mean token-level negative log-likelihood) on the evaluation text."),
  def("bits_per_byte", "Bits per byte", "bits/byte", "lower", "quality", "Total NLL in bits divided by the UTF-8 bytes of the evaluation text."),
  def("quality_delta", "Quality delta", "", "higher", "quality", "Primary quality metric minus the baseline's, signed so that higher is better."),
  def("prefill_ms", "Prefill", "ms", "lower", "latency", "Median wall time to process the prompt (stated length) and produce the first logits."),
  def("decode_ms_per_token", "Decode per token", "ms", "lower", "latency", "Median wall time of one cached decode step."),
  def("latency_ms_p50", "Latency p50", "ms", "lower", "latency", "Median end-to-end latency of one request (prefill + decode of the stated tokens)."),
  def("latency_ms_p95", "Latency p95", "ms", "lower", "latency", "95th percentile end-to-end latency of one request."),
  def("tokens_per_s", "Tokens per second", "tokens/s", "higher", "latency", "Decode throughput: 1000 / decode_ms_per_token."),
  def("speedup", "Speedup", "x", "higher", "latency", "Baseline decode_ms_per_token divided by this run's."),
  def("model_bytes", "Model size", "bytes", "lower", "memory", "Size of the model file(s) on disk."),
  def("weights_bytes", "Weights in memory", "bytes", "lower", "memory", "Bytes of all initializers as stored in the graph."),
  def("kv_cache_bytes", "KV cache", "bytes", "lower", "memory", "Bytes of the key/value cache at the benchmarked context length."),
  def("peak_rss_bytes", "Peak RSS", "bytes", "lower", "memory", "Peak resident set size of the run's child process."),
  def("gpu_buffer_bytes", "GPU buffers", "bytes", "lower", "memory", "Bytes of GPU buffers held by the WebGPU session."),
  def("memory_bytes", "Memory", "bytes", "lower", "memory", "Total memory attributed to the run (weights plus KV cache)."),
  def("bits_effective", "Effective bits", "bits", "lower", "method", "Average bits per weight including scales and zero points."),
  def("sparsity", "Sparsity", "ratio", "higher", "method", "Fraction of weights that are zero."),
  def("compression_ratio", "Compression ratio", "x", "higher", "method", "Baseline model bytes divided by this run's."),
  def("kept_token_ratio", "Kept token ratio", "ratio", "lower", "method", "Fraction of prompt or cache tokens kept."),
  def("acceptance_rate", "Acceptance rate", "ratio", "higher", "method", "Fraction of drafted tokens accepted by the target model."),
  def("mean_accepted_tokens", "Mean accepted tokens", "tokens", "higher", "method", "Mean tokens accepted per verification step."),
];

export const METRIC_KEYS = METRICS.map((m) => m.key);
const byKey = new Map(METRICS.map((m) => [m.key, m]));

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
      return Math.abs(value) >= 1000 || Math.abs(value) < 0.01 ? value.toPrecision(4) : value.toFixed(4);
  }
}
