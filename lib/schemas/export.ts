import { z } from "zod";

/** The format key of GET /api/v1/export (the filter keys are in filters.ts). */
export const ExportQuery = z.object({ format: z.enum(["csv", "json"]).default("csv") });
export type ExportQuery = z.infer<typeof ExportQuery>;
