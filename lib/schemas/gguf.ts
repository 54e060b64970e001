import { z } from "zod";
import { GGUF_TYPES } from "@/workers/export/gguf";

/** GET /api/v1/runs/:id/gguf query. */
export const GgufQuery = z.strictObject({
  type: z.enum(GGUF_TYPES).optional().describe("GGUF tensor type; absent: which types this run's model exports exactly, and why not the others"),
});
