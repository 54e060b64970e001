import { eq } from "drizzle-orm";
import { getDb, type Db } from "../client";
import { models } from "../schema";

/** A shape model as registered: no files on the server, a card that says how to generate it. */
export interface ShapeModelRow {
  id: string;
  name: string;
  kind: "decoder-lm";
  source: "shape";
  files: Record<string, string>;
  params: number;
  card: Record<string, unknown>;
}

/**
 * Registers the shape models (idempotent, like the zoo): a missing row is inserted, an existing
 * shape row brought up to date with the generator's card. Their files do not exist on the server:
 * each worker generates them on first use (workers/onnx/shape-cache.ts), so bytes and sha256 stay
 * null. A row of the same id from another source (a user's upload) is left alone.
 */
export function registerShapeModels(rows: ShapeModelRow[], db: Db = getDb()): number {
  let n = 0;
  db.transaction((tx) => {
    for (const r of rows) {
      const existing = tx.select({ source: models.source }).from(models).where(eq(models.id, r.id)).get();
      if (existing && existing.source !== "shape") continue;
      const row = { name: r.name, kind: r.kind, source: r.source, files: r.files, params: r.params, card: r.card, sha256: null, bytes: null };
      tx.insert(models)
        .values({ id: r.id, ...row })
        .onConflictDoUpdate({ target: models.id, set: row })
        .run();
      n++;
    }
  });
  return n;
}
