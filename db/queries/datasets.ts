import fs from "node:fs";
import readline from "node:readline";
import { eq, asc } from "drizzle-orm";
import { getDb, type Tx } from "../client";
import { datasets } from "../schema";
import { DomainError, conflict, invalid, zodDetails } from "../../lib/errors";
import { DATASET_LINE, type DatasetRow } from "../../lib/schemas/datasets";
import type { RegisterDatasetBody } from "../../lib/schemas/datasets";
import type { z } from "zod";
import { confinedPath, displayPath, displayRoots, hashFile, modelRoots, publicRows } from "./files";

/** Lines checked against the task's shape at registration; the harness re-checks what it reads. */
export const VALIDATED_LINES = 1000;

/** Registered datasets as the API shows them: each file relative to its root. */
export function listDatasets(tx: Tx = getDb()): DatasetRow[] {
  return publicRows(tx.select().from(datasets).orderBy(asc(datasets.id)).all(), publicDataset);
}

/** A dataset row without its absolute server path (lease data keeps it: workers read the file). */
export function publicDataset(d: DatasetRow, roots: string[] = displayRoots()): DatasetRow {
  return { ...d, file: displayPath(d.file, roots) };
}

export function getDataset(id: string, tx: Tx = getDb()): DatasetRow | undefined {
  return tx.select().from(datasets).where(eq(datasets.id, id)).get();
}

const bad = (field: string, message: string) => invalid("invalid request", [{ field, message }]);

/** The one answer for every unusable path, so a refusal tells nothing about the server's disk. */
export const DATASET_PATH_REFUSED = "path is not a readable dataset file under the configured roots";

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
  const refused = () => bad("path", DATASET_PATH_REFUSED);
  // Resolved through symlinks: the file itself, not a link to it, must lie under a configured root.
  const file = confinedPath(body.path, "file", modelRoots());
  if (!file) throw refused();
  let hashed: { sha256: string; bytes: number };
  try {
    await validateJsonl(file, body.task);
    hashed = await hashFile(file);
  } catch (e) {
    if (e instanceof DomainError) throw e;
    throw refused();
  }
  const { sha256, bytes } = hashed;
  const row = tx.transaction((t) => {
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
  return publicDataset(row);
}
