import { z } from "zod";

/** The format key of GET /api/v1/export (the filter keys are in filters.ts). */
export const ExportQuery = z.object({
  format: z.enum(["csv", "json"]).default("csv"),
  /** bom=1 starts a CSV with a UTF-8 byte order mark (for Excel); JSON never has one. */
  bom: z.enum(["0", "1"]).default("0"),
});
export type ExportQuery = z.infer<typeof ExportQuery>;
