import crypto from "node:crypto";
import { and, eq, gt, isNull, lt, or } from "drizzle-orm";
import { getDb, type Tx } from "../client";
import { apiTokens, sessions } from "../schema";
import { conflict, invalid, notFound } from "../../lib/errors";
import { sha256Hex } from "./workers";

export type ApiTokenRow = typeof apiTokens.$inferSelect;

/** How long a dashboard sign-in lasts. */
export const SESSION_TTL_MS = 12 * 60 * 60 * 1000;

/** A token name: what `npm run token -- revoke <name>` and the audit of who wrote refer to. */
export const TOKEN_NAME_RE = /^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/;

/** Constant-time equality of two hex digests. */
function sameHash(a: string, b: string): boolean {
  const x = Buffer.from(a);
  const y = Buffer.from(b);
  return x.length === y.length && crypto.timingSafeEqual(x, y);
}

/**
 * Creates an API token named `name` (unique among tokens not revoked; a revoked one's name can be
 * reused). Returns the token once: only its SHA-256 is stored. 256 random bits, prefixed `ft_` so a
 * leaked one is recognisable.
 */
export function createApiToken(name: string, tx: Tx = getDb(), now = Date.now()): { id: string; name: string; token: string } {
  if (!TOKEN_NAME_RE.test(name)) throw invalid(`token name "${name}" must be 1-64 letters, digits, ".", "_" or "-", starting with a letter or digit`);
  const existing = tx.select().from(apiTokens).where(eq(apiTokens.name, name)).get();
  if (existing && existing.revokedAt === null) throw conflict(`a token named "${name}" exists; revoke it first or pick another name`);
  if (existing) tx.delete(apiTokens).where(eq(apiTokens.id, existing.id)).run();
  const id = `t_${crypto.randomBytes(6).toString("hex")}`;
  const token = `ft_${crypto.randomBytes(32).toString("base64url")}`;
  tx.insert(apiTokens)
    .values({ id, name, tokenHash: sha256Hex(token), createdAt: now })
    .run();
  return { id, name, token };
}

export interface ApiTokenInfo {
  id: string;
  name: string;
  createdAt: number;
  lastUsedAt: number | null;
  revokedAt: number | null;
}

export function listApiTokens(tx: Tx = getDb()): ApiTokenInfo[] {
  return tx
    .select({ id: apiTokens.id, name: apiTokens.name, createdAt: apiTokens.createdAt, lastUsedAt: apiTokens.lastUsedAt, revokedAt: apiTokens.revokedAt })
    .from(apiTokens)
    .orderBy(apiTokens.createdAt)
    .all();
}

/** Revokes the token with this id or name and ends its sessions; 404 when there is none. */
export function revokeApiToken(idOrName: string, tx: Tx = getDb(), now = Date.now()): ApiTokenInfo {
  const row = tx
    .select()
    .from(apiTokens)
    .where(or(eq(apiTokens.id, idOrName), eq(apiTokens.name, idOrName)))
    .get();
  if (!row) throw notFound(`API token "${idOrName}"`);
  tx.update(apiTokens)
    .set({ revokedAt: row.revokedAt ?? now })
    .where(eq(apiTokens.id, row.id))
    .run();
  tx.delete(sessions).where(eq(sessions.apiTokenId, row.id)).run();
  return { id: row.id, name: row.name, createdAt: row.createdAt, lastUsedAt: row.lastUsedAt, revokedAt: row.revokedAt ?? now };
}

/** The live (not revoked) API token with this secret, or null; stamps its last use at most once a minute. */
export function findApiToken(token: string, tx: Tx = getDb(), now = Date.now()): ApiTokenRow | null {
  const hash = sha256Hex(token);
  const row = tx.select().from(apiTokens).where(eq(apiTokens.tokenHash, hash)).get();
  if (!row || !sameHash(row.tokenHash, hash) || row.revokedAt !== null) return null;
  if (row.lastUsedAt === null || now - row.lastUsedAt > 60_000) {
    tx.update(apiTokens).set({ lastUsedAt: now }).where(eq(apiTokens.id, row.id)).run();
  }
  return row;
}

/** Opens a dashboard session for a live API token: the cookie secret and the CSRF token, each returned once. */
export function createSession(apiTokenId: string, tx: Tx = getDb(), now = Date.now()): { session: string; csrf: string; expiresAt: number } {
  const session = crypto.randomBytes(32).toString("base64url");
  const csrf = crypto.randomBytes(32).toString("base64url");
  const expiresAt = now + SESSION_TTL_MS;
  // Expired sessions go whenever a new one opens, so the table never grows without bound.
  tx.delete(sessions).where(lt(sessions.expiresAt, now)).run();
  tx.insert(sessions)
    .values({ tokenHash: sha256Hex(session), csrfHash: sha256Hex(csrf), apiTokenId, createdAt: now, expiresAt })
    .run();
  return { session, csrf, expiresAt };
}

export interface SessionInfo {
  apiTokenId: string;
  name: string;
  csrfHash: string;
  expiresAt: number;
}

/** The unexpired session with this cookie secret whose API token is still live, or null. */
export function findSession(session: string, tx: Tx = getDb(), now = Date.now()): SessionInfo | null {
  const hash = sha256Hex(session);
  const row = tx
    .select({
      tokenHash: sessions.tokenHash,
      apiTokenId: sessions.apiTokenId,
      csrfHash: sessions.csrfHash,
      expiresAt: sessions.expiresAt,
      name: apiTokens.name,
    })
    .from(sessions)
    .innerJoin(apiTokens, eq(apiTokens.id, sessions.apiTokenId))
    .where(and(eq(sessions.tokenHash, hash), gt(sessions.expiresAt, now), isNull(apiTokens.revokedAt)))
    .get();
  if (!row || !sameHash(row.tokenHash, hash)) return null;
  return { apiTokenId: row.apiTokenId, name: row.name, csrfHash: row.csrfHash, expiresAt: row.expiresAt };
}

/** Whether `csrf` is this session's CSRF token (constant time). */
export function sessionCsrfMatches(s: SessionInfo, csrf: string): boolean {
  return sameHash(s.csrfHash, sha256Hex(csrf));
}

export function deleteSession(session: string, tx: Tx = getDb()): void {
  tx.delete(sessions)
    .where(eq(sessions.tokenHash, sha256Hex(session)))
    .run();
}
