import { z } from "zod";
import { RuntimeSchema } from "./workers";

export { RuntimeSchema };

/** Run statuses as a browser-safe list (db/schema/runs.ts types the column with the same list). */
export const RUN_STATUS_VALUES = ["queued", "leased", "running", "succeeded", "failed", "canceled"] as const;
export const RunStatusSchema = z.enum(RUN_STATUS_VALUES);
export type RunStatusValue = z.infer<typeof RunStatusSchema>;

/** A numeric path id ("12"); "1.5", "-3" or "abc" are 400s, not lookups that miss. */
export const IdParams = z.object({
  id: z
    .string()
    .regex(/^[1-9][0-9]{0,14}$/, "must be a positive integer id")
    .transform(Number),
});

/** Ids users choose for models and datasets: safe in URLs, file names and CSV cells. */
export const SlugId = z
  .string()
  .regex(/^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/, "ids are 1-64 letters, digits, '.', '_' or '-', starting with a letter or digit");

/** The body of every 4xx/5xx answer. */
export const ErrorResponse = z.object({
  error: z.string(),
  details: z.array(z.object({ field: z.string(), message: z.string() })).optional(),
});
export type ErrorResponse = z.infer<typeof ErrorResponse>;
