import crypto from "node:crypto";
import { and, eq, isNull, sql } from "drizzle-orm";
import { getDb, type Tx } from "../client";
import { shareLinks } from "../schema";
import { gone, notFound } from "../../lib/errors";
import { ViewState, SHARE_TOKEN_PATTERN, type CreateShareRequest, type ShareLinkResponse } from "../../lib/schemas/share";
import type { ShareScope } from "../../lib/share-scope";
import { andAll, runFilterConditions } from "./run-filter";

const DAY_MS = 86_400_000;

/** 24 random bytes (192 bits) as base64url: unguessable, and short enough to read out. */
export function newShareToken(): string {
  return crypto.randomBytes(24).toString("base64url");
}

export function createShareLink(req: CreateShareRequest, db: Tx = getDb(), now = Date.now()): { token: string; expiresAt: number | null } {
  const token = newShareToken();
  const expiresAt = req.expiresInDays ? now + req.expiresInDays * DAY_MS : null;
  db.insert(shareLinks).values({ token, viewState: req.view, createdAt: now, expiresAt }).run();
  return { token, expiresAt };
}

export type ShareLookup = { state: "ok"; link: ShareLinkResponse } | { state: "revoked"; at: number } | { state: "expired"; at: number } | { state: "missing" };

/** Looks a token up without throwing, so a page can say why a link no longer opens. */
export function lookupShareLink(token: string, db: Tx = getDb(), now = Date.now()): ShareLookup {
  if (!SHARE_TOKEN_PATTERN.test(token)) return { state: "missing" };
  const row = db.select().from(shareLinks).where(eq(shareLinks.token, token)).get();
  if (!row) return { state: "missing" };
  if (row.revokedAt !== null) return { state: "revoked", at: row.revokedAt };
  if (row.expiresAt !== null && row.expiresAt <= now) return { state: "expired", at: row.expiresAt };
  const view = ViewState.safeParse(row.viewState);
  // A row written by an older codec that no longer parses is as good as gone.
  if (!view.success) return { state: "missing" };
  return { state: "ok", link: { token: row.token, view: view.data, createdAt: row.createdAt, expiresAt: row.expiresAt } };
}

/** The link's view; 404 for an unknown token, 410 for a revoked or expired one. */
export function getShareLink(token: string, db: Tx = getDb(), now = Date.now()): ShareLinkResponse {
  const found = lookupShareLink(token, db, now);
  switch (found.state) {
    case "ok":
      return found.link;
    case "missing":
      throw notFound("share link");
    case "revoked":
      throw gone(`share link was revoked on ${new Date(found.at).toISOString()}`);
    case "expired":
      throw gone(`share link expired on ${new Date(found.at).toISOString()}`);
  }
}

/** Revokes a link (idempotent: revoking twice keeps the first time); 404 for an unknown token. */
export function revokeShareLink(token: string, db: Tx = getDb(), now = Date.now()): { revokedAt: number } {
  if (!SHARE_TOKEN_PATTERN.test(token)) throw notFound("share link");
  const row = db.select({ revokedAt: shareLinks.revokedAt }).from(shareLinks).where(eq(shareLinks.token, token)).get();
  if (!row) throw notFound("share link");
  if (row.revokedAt !== null) return { revokedAt: row.revokedAt };
  db.update(shareLinks)
    .set({ revokedAt: now })
    .where(and(eq(shareLinks.token, token), isNull(shareLinks.revokedAt)))
    .run();
  return { revokedAt: now };
}

/**
 * Whether run `id` lies within a share link's scope: it matches the view's filter (one primary-key
 * lookup with the filter's conditions checked on that row), or it is one of a comparison's runs or
 * the baseline one of them is compared against (the compare page shows both).
 */
export function runWithinShare(scope: ShareScope, id: number, db: Tx = getDb()): boolean {
  switch (scope.kind) {
    case "none":
      return false;
    case "ids": {
      if (scope.ids.includes(id)) return true;
      if (scope.ids.length === 0) return false;
      const ids = sql.join(
        scope.ids.map((x) => sql`${x}`),
        sql`, `,
      );
      return db.get<{ e: number }>(sql`SELECT EXISTS (SELECT 1 FROM runs WHERE id IN (${ids}) AND baseline_run_id = ${id}) AS e`)!.e === 1;
    }
    case "filter":
      return (
        db.get<{ e: number }>(
          sql`SELECT EXISTS (SELECT 1 FROM runs r WHERE r.id = ${id} AND ${andAll(runFilterConditions(scope.filter, "r", "exists"))}) AS e`,
        )!.e === 1
      );
  }
}
