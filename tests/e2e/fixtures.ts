import type { APIRequestContext } from "@playwright/test";

/** A small, known set of logged runs: one baseline and a few compressed variants per family. */
export interface RunSpec {
  methodId: string;
  params?: Record<string, unknown>;
  metrics: Record<string, number>;
  tags?: string[];
}

export const MODEL = "e2e-model";
export const DATASET = "e2e-text";

export const RUNS: RunSpec[] = [
  { methodId: "baseline", metrics: { perplexity: 10, decode_ms_per_token: 5, latency_ms_p50: 180, model_bytes: 4_000_000 }, tags: ["ref"] },
  { methodId: "quant.rtn", params: { bits: 8 }, metrics: { perplexity: 10.05, decode_ms_per_token: 3.6, latency_ms_p50: 135.2, model_bytes: 1_100_000 } },
  { methodId: "quant.rtn", params: { bits: 4 }, metrics: { perplexity: 10.6, decode_ms_per_token: 2.6, latency_ms_p50: 103.2, model_bytes: 600_000 } },
  { methodId: "quant.rtn", params: { bits: 3 }, metrics: { perplexity: 12.4, decode_ms_per_token: 2.7, latency_ms_p50: 106.4, model_bytes: 480_000 } },
  { methodId: "quant.rtn", params: { bits: 2 }, metrics: { perplexity: 31, decode_ms_per_token: 2.4, latency_ms_p50: 96.8, model_bytes: 350_000 } },
  {
    methodId: "prune.magnitude",
    params: { sparsity: 0.3 },
    metrics: { perplexity: 10.4, decode_ms_per_token: 4.8, latency_ms_p50: 173.6, model_bytes: 4_000_000 },
  },
  {
    methodId: "prune.magnitude",
    params: { sparsity: 0.5 },
    metrics: { perplexity: 11.9, decode_ms_per_token: 4.9, latency_ms_p50: 176.8, model_bytes: 4_000_000 },
  },
  {
    methodId: "prune.magnitude",
    params: { sparsity: 0.7 },
    metrics: { perplexity: 19.5, decode_ms_per_token: 5.1, latency_ms_p50: 183.2, model_bytes: 4_000_000 },
  },
];

export const HARDWARE = {
  runtime: "cpu",
  ortVersion: "1.30.0",
  cpuModel: "e2e test CPU",
  cpuCores: 2,
  memoryBytes: 8_000_000_000,
  platform: "linux-x64",
  nodeVersion: "v20",
};

/** Logs runs through the public API (POST /api/v1/runs), as an outside script would. */
export async function logRuns(request: APIRequestContext, runs: RunSpec[] = RUNS, extra: { modelId?: string; tag?: string } = {}): Promise<number[]> {
  const ids: number[] = [];
  for (const r of runs) {
    const res = await request.post("/api/v1/runs", {
      data: {
        methodId: r.methodId,
        params: r.params ?? {},
        modelId: extra.modelId ?? MODEL,
        datasetId: DATASET,
        runtime: "cpu",
        hardware: HARDWARE,
        metrics: r.metrics,
        tags: [...(r.tags ?? []), ...(extra.tag ? [extra.tag] : [])],
      },
    });
    if (res.status() !== 201) throw new Error(`POST /api/v1/runs answered ${res.status()}: ${await res.text()}`);
    ids.push(((await res.json()) as { id: number }).id);
  }
  return ids;
}
