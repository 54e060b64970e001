/**
 * Which runs differ only by seed. The seed is a run column of its own (never a parameter), so two
 * runs are replicates when they ran the same method with the same parameters in the same context
 * (model, dataset, runtime, hardware). Parameters compare as canonical JSON (keys sorted), so key
 * order in a logged body does not split a set. The Pareto charts, the runs table and compare all
 * group by this one rule.
 */

/** A value with every object's keys sorted, recursively (arrays keep their order). */
export function canonicalJson(v: unknown): unknown {
  return v && typeof v === "object" && !Array.isArray(v)
    ? Object.fromEntries(
        Object.entries(v as Record<string, unknown>)
          .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
          .map(([k, x]) => [k, canonicalJson(x)]),
      )
    : v;
}

/** The method-and-parameters part of a seed set's key; within one context this alone decides the set. */
export function methodParamsKey(methodId: string, params: unknown): string {
  return `${methodId}\u0000${JSON.stringify(canonicalJson(params))}`;
}

/** The same, from parameters as stored (JSON text); text that does not parse compares as itself. */
export function methodParamsKeyOfText(methodId: string, paramsText: string): string {
  let params: unknown = null;
  try {
    params = JSON.parse(paramsText);
  } catch {
    params = paramsText;
  }
  return methodParamsKey(methodId, params);
}

/** What a run must share with another to be its seed replicate. */
export interface SeedSetFields {
  methodId: string;
  params: unknown;
  modelId: string;
  datasetId: string;
  runtime: string;
  hardwareKey: string | null;
}

/** A run's seed set across contexts: the context fields plus methodParamsKey. */
export function seedSetKey(r: SeedSetFields): string {
  return contextKey(r) + methodParamsKey(r.methodId, r.params);
}

/** The (model, dataset, runtime, hardware) part of a seed set's key; a missing hardware label is its own value. */
export function contextKey(r: Pick<SeedSetFields, "modelId" | "datasetId" | "runtime" | "hardwareKey">): string {
  return `${r.modelId}\u0000${r.datasetId}\u0000${r.runtime}\u0000${r.hardwareKey ?? "\u0001"}\u0000`;
}

/** Mean and sample standard deviation (0 for one value) of a non-empty list. */
export function meanSd(v: readonly number[]): { mean: number; sd: number } {
  const mean = v.reduce((a, b) => a + b, 0) / v.length;
  const sd = v.length > 1 ? Math.sqrt(v.reduce((a, b) => a + (b - mean) ** 2, 0) / (v.length - 1)) : 0;
  return { mean, sd };
}
