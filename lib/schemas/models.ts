import { z } from "zod";
import { MODEL_KINDS, MODEL_SOURCES } from "../domain";
import { RegisterByPathFields, ServerPath } from "./common";

export const ModelRow = z.object({
  id: z.string(),
  name: z.string(),
  kind: z.enum(MODEL_KINDS),
  source: z.enum(MODEL_SOURCES),
  files: z.record(z.string(), z.string()),
  sha256: z.string().nullable(),
  params: z.number().nullable(),
  bytes: z.number().nullable(),
  card: z.record(z.string(), z.unknown()).nullable(),
  createdAt: z.number(),
});
export type ModelRow = z.infer<typeof ModelRow>;

export const ModelsResponse = z.object({ models: z.array(ModelRow) });
export type ModelsResponse = z.infer<typeof ModelsResponse>;

/**
 * POST /api/v1/models — register a model directory already on the server's disk, in the optimum
 * decoder layout: model.onnx (+ optional model.onnx_data), tokenizer.json, optional card.json.
 */
export const RegisterModelBody = z
  .strictObject({
    ...RegisterByPathFields,
    kind: z.enum(MODEL_KINDS).default("decoder-lm"),
    path: ServerPath.optional().describe("Directory holding model.onnx and tokenizer.json"),
    fromRun: z
      .number()
      .int()
      .positive()
      .optional()
      .describe("Instead of path: a succeeded run whose output model (a pruned or quantized model) becomes a base model"),
  })
  .superRefine((b, ctx) => {
    if ((b.path === undefined) === (b.fromRun === undefined)) ctx.addIssue({ code: "custom", path: ["path"], message: "give exactly one of path and fromRun" });
  });
export type RegisterModelBody = z.output<typeof RegisterModelBody>;
