import fs from "node:fs";
import path from "node:path";
import readline from "node:readline";
import { eq, asc } from "drizzle-orm";
import { getDb, type Tx } from "../client";
import { datasets } from "../schema";
import { conflict, invalid, zodDetails } from "../../lib/errors";
import { DATASET_LINE, type DatasetRow } from "../../lib/schemas/datasets";
import type { RegisterDatasetBody } from "../../lib/schemas/datasets";
import type { z } from "zod";
import { hashFile, statOrNull } from "./files";

/** Lines checked against the task's shape at registration; the harness re-checks what it reads. */
export const VALIDATED_LINES = 1000;

export function listDatasets(tx: Tx = getDb()): DatasetRow[] {
  return tx.select().from(datasets).orderBy(asc(datasets.id)).all();
}

export function getDataset(id: string, tx: Tx = getDb()): DatasetRow | undefined {
  return tx.select().from(datasets).where(eq(datasets.id, id)).get();
}

const bad = (field: string, message: string) => invalid("invalid request", [{ field, message }]);

/** Checks the first VALIDATED_LINES lines of a JSONL file against the task's line shape. */
async function validateJsonl(file: string, task: keyof typeof DATASET_LINE): Promise<number> {
  const schema = DATASET_LINE[task];
  const rl = readline.createInterface({ input: fs.createReadStream(file, "utf8"), crlfDelay: Infinity });
  let lineNo = 0;
  let checked = 0;
  try {
    for await (const line of rl) {
      lineNo++;
      if (line.trim() === "") continue;
      let obj: unknown;
      try {
        obj = JSON.parse(line);
      } catch {
        throw bad("path", `line ${lineNo} is not valid JSON`);
      }
      const r = schema.safeParse(obj);
      if (!r.success) {
        const d = zodDetails(r.error)[0];
        throw bad("path", `line ${lineNo} is not a ${task} example: ${d.field}: ${d.message}`);
      }
      if (++checked >= VALIDATED_LINES) break;
    }
  } finally {
    rl.close();
  }
  if (checked === 0) throw bad("path", "the file has no examples");
  return checked;
}

/** Registers a JSONL dataset file after checking its lines match the task (docs/datasets.md). */
export async function registerDataset(body: z.infer<typeof RegisterDatasetBody>, tx: Tx = getDb()): Promise<DatasetRow> {
  if (getDataset(body.id, tx)) throw conflict(`dataset "${body.id}" is already registered`);
  const file = path.resolve(body.path);
  const st = statOrNull(file);
  if (!st) throw bad("path", `${body.path} does not exist`);
  if (!st.isFile()) throw bad("path", `${body.path} is not a file (expected a JSONL file)`);
  await validateJsonl(file, body.task);
  const { sha256, bytes } = await hashFile(file);
  return tx.transaction((t) => {
    if (getDataset(body.id, t)) throw conflict(`dataset "${body.id}" is already registered`);
    return t
      .insert(datasets)
      .values({
        id: body.id,
        name: body.name ?? body.id,
        task: body.task,
        file,
        sha256,
        size: bytes,
        split: body.split ?? null,
        description: body.description ?? null,
      })
      .returning()
      .get();
  });
}
