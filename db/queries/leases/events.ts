import { getDb, type Tx } from "../../client";
import { runEvents } from "../../schema";

export type RunEventLevel = (typeof runEvents.$inferInsert)["level"];

/** Appends one run event; level "status" marks a status transition. */
export function addRunEvent(runId: number, level: RunEventLevel, message: string, tx: Tx = getDb(), ts = Date.now()): void {
  tx.insert(runEvents).values({ runId, level, message, ts }).run();
}
