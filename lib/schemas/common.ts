import { z } from "zod";
import { RUN_STATUSES, RUNTIMES } from "../domain";

export const Runtime = z.enum(RUNTIMES);
export type Runtime = z.output<typeof Runtime>;

export const RunStatus = z.enum(RUN_STATUSES);
export type RunStatus = z.output<typeof RunStatus>;

/** The most metric keys one run may carry (a logged run's metrics, a completed run's metrics and baseline metrics). */
export const MAX_METRIC_KEYS = 256;

/** Metrics with at most MAX_METRIC_KEYS keys: every key widens the run's metric rows and each CSV export. */
export const boundedMetrics = <S extends z.ZodType<Record<string, number>>>(metrics: S) =>
  metrics.refine((m) => Object.keys(m as object).length <= MAX_METRIC_KEYS, `at most ${MAX_METRIC_KEYS} metric keys per run`);

/** A numeric path id ("12"); "1.5", "-3" or "abc" are 400s, not lookups that miss. */
export const IdParams = z.object({
  id: z
    .string()
    .regex(/^[1-9][0-9]{0,14}$/, "must be a positive integer id")
    .transform(Number),
});

/** Ids users choose for models and datasets: safe in URLs, file names and CSV cells. */
/**
 * A name a logged run gives its model or dataset (which need not be registered here): any text but control
 * characters (NUL included) and lone UTF-16 surrogates, which no name has and which break filters, CSV and URLs.
 */
export const RunLabel = z
  .string()
  .trim()
  .min(1)
  .max(200)
  .regex(/^[^\p{Cc}\p{Cs}]*$/u, "no control characters or unpaired surrogates");

export const SlugId = z.string().regex(/^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/, "ids are 1-64 letters, digits, '.', '_' or '-', starting with a letter or digit");

/**
 * The fields a registration of files already on the server's disk (POST /models, POST /datasets)
 * starts with: the id to register under and an optional display name.
 */
export const RegisterByPathFields = {
  id: SlugId,
  name: z.string().trim().min(1).max(200).optional(),
};

/** A file or directory on the server's disk, as a registration body names it. */
export const ServerPath = z.string().min(1).max(4096);

/** The body of every 4xx/5xx answer. */
export const ErrorResponse = z.object({
  error: z.string(),
  details: z.array(z.object({ field: z.string(), message: z.string() })).optional(),
});
export type ErrorResponse = z.infer<typeof ErrorResponse>;
