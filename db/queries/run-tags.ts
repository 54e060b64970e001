import { sql } from "drizzle-orm";
import { getDb, type Tx } from "../client";
import { invalid, notFound } from "../../lib/errors";
import type { BulkTagsBody, BulkTagsResponse } from "../../lib/schemas/run-groups";

/** A run carries at most this many tags (as PATCH /runs/:id allows). */
const MAX_TAGS = 50;

/**
 * Adds and removes tags on many runs in one transaction: unknown ids are a 404 naming them and a
 * run that would pass MAX_TAGS a 400, both before anything is written. Tags keep their order; added
 * ones go last.
 */
export function bulkTagRuns(body: BulkTagsBody, tx: Tx = getDb(), now = Date.now()): BulkTagsResponse {
  const add = body.add ?? [];
  const remove = new Set(body.remove ?? []);
  return tx.transaction((t) => {
    const rows = t.all<{ id: number; tags: string }>(
      sql`SELECT id, tags FROM runs WHERE id IN (${sql.join(
        body.ids.map((id) => sql`${id}`),
        sql`, `,
      )})`,
    );
    const found = new Set(rows.map((r) => r.id));
    const missing = body.ids.filter((id) => !found.has(id));
    if (missing.length > 0) throw notFound(`run${missing.length > 1 ? "s" : ""} ${missing.join(", ")}`);
    const changes: { id: number; tags: string[] }[] = [];
    const tooMany: number[] = [];
    for (const r of rows) {
      const before = JSON.parse(r.tags) as string[];
      const kept = before.filter((x) => !remove.has(x));
      const next = [...kept, ...add.filter((x) => !kept.includes(x))];
      if (next.length > MAX_TAGS) tooMany.push(r.id);
      else if (next.length !== before.length || next.some((x, i) => x !== before[i])) changes.push({ id: r.id, tags: next });
    }
    if (tooMany.length > 0) {
      throw invalid("invalid request", [{ field: "add", message: `runs ${tooMany.join(", ")} would carry more than ${MAX_TAGS} tags` }]);
    }
    for (const c of changes) t.run(sql`UPDATE runs SET tags = ${JSON.stringify(c.tags)}, updated_at = ${now} WHERE id = ${c.id}`);
    const ids = changes.map((c) => c.id).sort((a, b) => a - b);
    return { updated: ids.length, ids };
  });
}
