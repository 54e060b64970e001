import { z } from "zod";
import { metricKeySchema, RunSetupFields } from "./runs";

export const PARETO_GROUPS = ["family", "method", "runtime", "hardware"] as const;
export type ParetoColumnGroup = (typeof PARETO_GROUPS)[number];
/** A run column, or one of the method's parameters (`param.bits`): each value its own group and front. */
export type ParetoGroupBy = ParetoColumnGroup | `param.${string}`;
const PARAM_GROUP = /^param\.[A-Za-z_][A-Za-z0-9_]{0,63}$/;
export const ParetoGroupSchema = z.union([
  z.enum(PARETO_GROUPS),
  z
    .string()
    .regex(PARAM_GROUP, `one of ${PARETO_GROUPS.join(", ")} or param.<name>`)
    .transform((s) => s as `param.${string}`),
]);
export const isParamGroup = (g: string): g is `param.${string}` => PARAM_GROUP.test(g);

const num = z
  .string()
  .refine((s) => s.trim() !== "" && Number.isFinite(Number(s)), "must be a finite number")
  .transform(Number);

export const MAX_X = 4;

/** The point fields that carry interval bounds of the x and y metrics. */
export const BOUND_KEYS = ["xLo", "xHi", "yLo", "yHi", "n"] as const;

/** The axis keys of GET /api/v1/pareto (the filter keys are in filters.ts). */
export const ParetoQuery = z.object({
  /**
   * One x metric, or several separated by commas: one chart per x against the same y, group and
   * filter, answered as `{ charts: [...] }` so the y column, the groups and the filter are read once.
   */
  x: z
    .string()
    .superRefine((s, ctx) => {
      const keys = s.split(",");
      if (keys.length > MAX_X) ctx.addIssue({ code: "custom", message: `at most ${MAX_X} x metrics, separated by commas` });
      for (const k of keys) {
        const r = metricKeySchema.safeParse(k);
        if (!r.success) ctx.addIssue({ code: "custom", message: `${JSON.stringify(k)}: ${r.error.issues[0].message}` });
      }
    })
    .transform((s) => s.split(",")),
  y: metricKeySchema,
  group: ParetoGroupSchema.default("family"),
  /**
   * "latest": when the filter matches several (model, dataset, runtime, hardware) contexts, answer
   * for the most recent one only (the explorer's default view); "all": every context, each its own
   * groups.
   */
  scope: z.enum(["all", "latest"]).default("all"),
  /**
   * "seeds": runs that differ only by seed (same method, parameters and context) are one point at
   * the mean of each metric, with ± one standard deviation as its error bars and `n` the runs.
   */
  aggregate: z.enum(["none", "seeds"]).default("none"),
  refX: num.optional(),
  refY: num.optional(),
  maxDominated: z
    .string()
    .regex(/^[0-9]{1,6}$/, "must be an integer from 0 to 100000")
    .transform(Number)
    .pipe(z.number().int().max(100_000, "must be at most 100000"))
    .default(2000),
});
export type ParetoQuery = z.infer<typeof ParetoQuery>;

/**
 * 95% interval bounds of a charted metric (`<key>_lo`, `<key>_hi`), present on a point only when its
 * axis metric has intervals and this run recorded them: a chart of metrics without intervals pays
 * no bytes for them.
 */
const Bounds = {
  xLo: z.number().optional(),
  xHi: z.number().optional(),
  yLo: z.number().optional(),
  yHi: z.number().optional(),
  /** With aggregate=seeds: the runs averaged into this point (its bounds are then mean ± sd). */
  n: z.number().int().optional(),
};

/** One comparison context: only runs that share all four are compared on one front. */
export const ParetoContext = z.object({
  modelId: z.string(),
  datasetId: z.string(),
  runtime: z.string(),
  hardwareKey: z.string().nullable(),
  /** Runs of the context that match the filter (only in GET /api/v1/contexts). */
  runs: z.number().int().optional(),
  /** Creation time (ms) of the context's latest run matching the filter (only in GET /api/v1/contexts). */
  lastRunAt: z.number().optional(),
  /** The baseline run whose values (worsened by REFERENCE_MARGIN) are the context's hypervolume reference. */
  baselineRunId: z.number().int().nullable(),
});
export type ParetoContext = z.infer<typeof ParetoContext>;

/**
 * The hypervolume reference of a context is its baseline's (x, y) worsened by this fraction of
 * each value (x 1.5 on a lower-is-better axis, x 0.5 on a higher-is-better one): fixed while
 * compressed runs arrive, and generous enough that a run up to 50% worse than the uncompressed
 * model on either axis still adds area.
 */
export const REFERENCE_MARGIN = 0.5;

/** The hardware filter value that stands for "no hardware label" (logged runs that gave none). */
export const NO_HARDWARE = "(none)";

/** "model · dataset · hardware", the hardware label prefixed by the runtime unless it already names it. */
export const contextLabel = (c: Pick<ParetoContext, "modelId" | "datasetId" | "runtime" | "hardwareKey">) =>
  `${c.modelId} · ${c.datasetId} · ${c.hardwareKey === null ? c.runtime : c.hardwareKey.startsWith(`${c.runtime} · `) ? c.hardwareKey : `${c.runtime} · ${c.hardwareKey}`}`;

export const FrontPoint = z.object({
  runId: z.number().int(),
  /** With aggregate=seeds: every run averaged into the point (runId is the first). */
  runIds: z.array(z.number().int()).optional(),
  x: z.number(),
  y: z.number(),
  ...Bounds,
  ...RunSetupFields,
});
export type FrontPoint = z.infer<typeof FrontPoint>;

export const DominatedPoint = z.object({ runId: z.number().int(), x: z.number(), y: z.number(), group: z.string(), ...Bounds });
export type DominatedPoint = z.infer<typeof DominatedPoint>;

export const ParetoResponse = z.object({
  x: z.object({ key: z.string(), direction: z.enum(["higher", "lower"]) }),
  y: z.object({ key: z.string(), direction: z.enum(["higher", "lower"]) }),
  group: ParetoGroupSchema,
  /**
   * The point hypervolumes are measured against when the answer covers one context (null when it
   * covers several: each group then carries its own context's reference).
   */
  reference: z.object({ x: z.number(), y: z.number() }).nullable(),
  /** "seeds" when points are means over seeds and their bounds mean ± sd; "none" when bounds are 95% intervals. */
  aggregate: z.enum(["none", "seeds"]),
  /** Where `reference` comes from (REFERENCE_SOURCES); null with `reference`. */
  referenceSource: z.enum(["baseline", "query", "worst-point"]).nullable(),
  /**
   * The (model, dataset, runtime, hardware) contexts the answer covers. Fronts never span two of
   * them: with several, every group is one context's group and its key names the context.
   */
  contexts: z.array(z.lazy(() => ParetoContext)),
  groups: z.array(
    z.object({
      /** The group value (method, family, ...), followed by " · " and the context label when the answer covers several contexts. */
      key: z.string(),
      /** Index into `contexts`. */
      context: z.number().int(),
      reference: z.object({ x: z.number(), y: z.number() }).nullable(),
      referenceSource: z.enum(["baseline", "query", "worst-point"]).nullable(),
      /** Non-dominated runs, ordered from best x to worst x. */
      front: z.array(FrontPoint),
      hypervolume: z.number(),
      /** Runs in the group that have both metrics. */
      count: z.number().int(),
    }),
  ),
  /** Dominated runs, an evenly spaced deterministic sample of at most maxDominated (ordered by run id). */
  dominated: z.array(DominatedPoint),
  dominatedTotal: z.number().int(),
  /** Runs matching the filter that have both metrics. */
  total: z.number().int(),
});
export type ParetoResponse = z.infer<typeof ParetoResponse>;

/**
 * The answer to GET /api/v1/pareto with several x metrics: one chart per x, in the order asked, each
 * shaped as the single-x answer except that the dominated sample is columnar (parallel arrays, the
 * group as an index into `groups`): the sample is most of the payload (explorer view over 100k
 * runs, 2 x 2,000 sampled points: 341 kB as objects, 198 kB as columns, of which 36 kB are fronts).
 */
export const DominatedColumns = z.object({
  runId: z.array(z.number().int()),
  x: z.array(z.number()),
  y: z.array(z.number()),
  group: z.array(z.number().int()),
  /** Interval bounds, only for an axis whose metric has intervals (null where a run has none). */
  xLo: z.array(z.number().nullable()).optional(),
  xHi: z.array(z.number().nullable()).optional(),
  yLo: z.array(z.number().nullable()).optional(),
  yHi: z.array(z.number().nullable()).optional(),
  n: z.array(z.number().int().nullable()).optional(),
});
export type DominatedColumns = z.infer<typeof DominatedColumns>;
export const ParetoChart = ParetoResponse.omit({ dominated: true }).extend({ dominated: DominatedColumns });
export type ParetoChart = z.infer<typeof ParetoChart>;
export const ParetoChartsResponse = z.object({ charts: z.array(ParetoChart) });
export type ParetoChartsResponse = z.infer<typeof ParetoChartsResponse>;

/** A columnar chart as the single-x answer (what the charts draw). */
export function expandChart(c: ParetoChart): ParetoResponse {
  const d = c.dominated;
  const bound = (col: (number | null)[] | undefined, i: number) => (col && col[i] !== null ? col[i]! : undefined);
  return {
    ...c,
    dominated: d.runId.map((runId, i) => {
      const p: DominatedPoint = { runId, x: d.x[i], y: d.y[i], group: c.groups[d.group[i]].key };
      for (const k of BOUND_KEYS) {
        const v = bound(d[k], i);
        if (v !== undefined) p[k] = v;
      }
      return p;
    }),
  };
}
