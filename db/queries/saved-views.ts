import { asc, eq } from "drizzle-orm";
import { getDb, type Tx } from "../client";
import { savedViews } from "../schema";
import { conflict, notFound } from "../../lib/errors";
import type { CreateSavedViewBody, SavedView } from "../../lib/schemas/saved-views";
import { ViewState } from "../../lib/schemas/share";

/** Every saved view, by name; a row whose view no longer parses (an older codec) is left out. */
export function listSavedViews(tx: Tx = getDb()): SavedView[] {
  const rows = tx.select().from(savedViews).orderBy(asc(savedViews.name), asc(savedViews.id)).all();
  return rows.flatMap((r) => {
    const view = ViewState.safeParse(r.viewState);
    return view.success ? [{ id: r.id, name: r.name, view: view.data, createdAt: r.createdAt }] : [];
  });
}

/** Stores a named view; 409 when the name is taken. */
export function createSavedView(body: CreateSavedViewBody, tx: Tx = getDb(), now = Date.now()): SavedView {
  return tx.transaction((t) => {
    const taken = t.select({ id: savedViews.id }).from(savedViews).where(eq(savedViews.name, body.name)).get();
    if (taken) throw conflict(`a saved view named "${body.name}" already exists (delete it first or choose another name)`);
    const [row] = t.insert(savedViews).values({ name: body.name, viewState: body.view, createdAt: now }).returning().all();
    return { id: row.id, name: row.name, view: body.view, createdAt: row.createdAt };
  });
}

/** Deletes a saved view and answers what it was (so a client can offer undo); 404 when there is none. */
export function deleteSavedView(id: number, tx: Tx = getDb()): SavedView {
  return tx.transaction((t) => {
    const [row] = t.delete(savedViews).where(eq(savedViews.id, id)).returning().all();
    if (!row) throw notFound(`saved view ${id}`);
    return { id: row.id, name: row.name, view: row.viewState, createdAt: row.createdAt };
  });
}
