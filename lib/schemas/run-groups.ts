import { z } from "zod";
import { StatusCounts } from "./experiments";
import { RunSetupFields, RunsPageQuery, tag } from "./runs";

/**
 * The page keys of GET /api/v1/runs with `aggregate`: `seeds` answers groups of runs that differ
 * only by seed (lib/seed-sets.ts) instead of runs.
 */
export const RunsListQuery = RunsPageQuery.extend({
  aggregate: z.enum(["none", "seeds"]).default("none").describe("seeds: one row per set of runs differing only by seed, metrics as mean ± sd"),
});
export type RunsListQuery = z.infer<typeof RunsListQuery>;

/** A metric over a seed set's members that carry it: mean, sample standard deviation (0 for one run), count. */
export const SeedMetric = z.object({ mean: z.number(), sd: z.number(), n: z.number().int() });
export type SeedMetric = z.infer<typeof SeedMetric>;

/** Runs that differ only by seed, as one row. */
export const RunGroup = z.object({
  /** The set's first run (lowest id): its row id in the table. */
  id: z.number().int(),
  ...RunSetupFields,
  /** Member runs matching the filter, lowest id first. */
  runIds: z.array(z.number().int()),
  seeds: z.array(z.number().int().nullable()),
  n: z.number().int(),
  statusCounts: StatusCounts,
  /** Tags any member carries. */
  tags: z.array(z.string()),
  createdAt: z.number(),
  metrics: z.record(z.string(), SeedMetric),
});
export type RunGroup = z.infer<typeof RunGroup>;

export const RunGroupsPage = z.object({
  aggregate: z.literal("seeds"),
  groups: z.array(RunGroup),
  /** Pass back as `cursor` for the next page; null on the last page. */
  nextCursor: z.string().nullable(),
  /** Groups matching the filter, over all pages. */
  total: z.number().int(),
  /** Runs in those groups. */
  runs: z.number().int(),
});
export type RunGroupsPage = z.infer<typeof RunGroupsPage>;

/** The most runs one bulk tag request changes. */
export const MAX_BULK_RUNS = 1000;

/** POST /api/v1/runs/tags — add and/or remove tags on many runs in one transaction. */
export const BulkTagsBody = z
  .strictObject({
    ids: z
      .array(z.number().int().positive())
      .min(1, "give at least one run id")
      .max(MAX_BULK_RUNS, `at most ${MAX_BULK_RUNS} runs per request`)
      .refine((ids) => new Set(ids).size === ids.length, "ids must not repeat"),
    add: z.array(tag).max(50).optional(),
    remove: z.array(tag).max(50).optional(),
  })
  .refine((b) => (b.add?.length ?? 0) + (b.remove?.length ?? 0) > 0, { message: "give tags to add and/or remove", path: ["add"] })
  .refine((b) => !(b.add ?? []).some((t) => (b.remove ?? []).includes(t)), { message: "a tag cannot be both added and removed", path: ["remove"] });
export type BulkTagsBody = z.infer<typeof BulkTagsBody>;

export const BulkTagsResponse = z.object({
  /** Runs whose tags changed (a run that already had every added tag and none removed is unchanged). */
  updated: z.number().int(),
  ids: z.array(z.number().int()),
});
export type BulkTagsResponse = z.infer<typeof BulkTagsResponse>;
