import { z } from "zod";

/** The tensor types GGUF export writes (workers/export/gguf.ts GGUF_TYPES). */
export const GGUF_TYPES = ["f32", "f16", "q8_0", "q4_0"] as const;

/** GET /api/v1/runs/:id/gguf query. */
export const GgufQuery = z.strictObject({
  type: z.enum(GGUF_TYPES).optional().describe("GGUF tensor type; absent: which types this run's model exports exactly, and why not the others"),
});
