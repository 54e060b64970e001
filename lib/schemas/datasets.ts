import { z } from "zod";
import { DATASET_TASKS, type DatasetTask } from "../domain";
import { RegisterByPathFields, ServerPath } from "./common";

export const DatasetRow = z.object({
  id: z.string(),
  name: z.string(),
  task: z.enum(DATASET_TASKS),
  file: z.string(),
  sha256: z.string().nullable(),
  size: z.number().nullable(),
  split: z.string().nullable(),
  description: z.string().nullable(),
  createdAt: z.number(),
});
export type DatasetRow = z.infer<typeof DatasetRow>;

export const DatasetsResponse = z.object({ datasets: z.array(DatasetRow) });
export type DatasetsResponse = z.infer<typeof DatasetsResponse>;

/** POST /api/v1/datasets — register a JSONL file already on the server's disk (docs/datasets.md). */
export const RegisterDatasetBody = z.strictObject({
  ...RegisterByPathFields,
  task: z.enum(DATASET_TASKS),
  path: ServerPath.describe("JSONL file, one example per line"),
  split: z.string().trim().min(1).max(50).optional(),
  description: z.string().max(2000).optional(),
});
export type RegisterDatasetBody = z.output<typeof RegisterDatasetBody>;

const text = z.string().min(1);
const extra = { id: z.union([z.string(), z.number()]).optional(), meta: z.unknown().optional() };

/** The shape of one JSONL line per task, as the evaluation harness reads it. */
export const DATASET_LINE: Record<DatasetTask, z.ZodType> = {
  perplexity: z.strictObject({ text, ...extra }),
  "exact-match": z.strictObject({ prompt: text, answer: z.string(), ...extra }),
  recall: z.strictObject({ prompt: text, answer: z.string(), ...extra }),
  "long-context": z.strictObject({ prompt: text, answer: z.string(), ...extra }),
  "multiple-choice": z
    .strictObject({ prompt: text, choices: z.array(z.string()).min(2), label: z.number().int().min(0), ...extra })
    .refine((l) => l.label < l.choices.length, { message: "label must index into choices", path: ["label"] }),
};
