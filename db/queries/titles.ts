import { eq } from "drizzle-orm";
import { getDb, type Tx } from "../client";
import { experiments, runs } from "../schema";

/**
 * Page titles name what a page shows: "Run #12 quant.rtn", "Experiment #3 rtn-sweep". With `reveal`
 * false (reads need a token) they carry only the number, so a signed-out visitor learns nothing from
 * the title that the API would refuse them.
 */
export function runTitle(id: number, reveal: boolean, tx: Tx = getDb()): string {
  if (!reveal) return `Run #${id}`;
  const row = tx.select({ methodId: runs.methodId }).from(runs).where(eq(runs.id, id)).get();
  return row ? `Run #${id} ${row.methodId}` : `Run #${id} (not found)`;
}

export function experimentTitle(id: number, reveal: boolean, tx: Tx = getDb()): string {
  if (!reveal) return `Experiment #${id}`;
  const row = tx.select({ name: experiments.name }).from(experiments).where(eq(experiments.id, id)).get();
  return row ? `${row.name} · Experiment #${id}` : `Experiment #${id} (not found)`;
}
