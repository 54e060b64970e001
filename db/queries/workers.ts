import crypto from "node:crypto";
import fs from "node:fs";
import { desc, eq } from "drizzle-orm";
import { getDb, type Tx } from "../client";
import { workers } from "../schema";
import { unauthorized, unavailable } from "../../lib/errors";
import { envSetting } from "../../lib/env";
import type { WorkerRegisterBody, HardwareFingerprint, WorkerInfo } from "../../lib/schemas/workers";
import type { Runtime } from "../../lib/domain";
import { hardwareKey } from "../../lib/hardware";

export type WorkerRow = typeof workers.$inferSelect;

export const sha256Hex = (s: string) => crypto.createHash("sha256").update(s).digest("hex");

/** Constant-time comparison so a wrong enrollment token leaks nothing through timing. */
function sameSecret(a: string, b: string): boolean {
  const ha = crypto.createHash("sha256").update(a).digest();
  const hb = crypto.createHash("sha256").update(b).digest();
  return crypto.timingSafeEqual(ha, hb);
}

/**
 * The enrollment token workers present: FRONTIER_ENROLL_TOKEN, else the first line of
 * FRONTIER_ENROLL_TOKEN_FILE (read on every call, so rewriting the file rotates the token without a
 * restart), else none.
 */
export function currentEnrollToken(source: NodeJS.ProcessEnv = process.env): string | undefined {
  const direct = envSetting("FRONTIER_ENROLL_TOKEN", source);
  if (direct) return direct;
  const file = envSetting("FRONTIER_ENROLL_TOKEN_FILE", source);
  if (!file) return undefined;
  try {
    const token = fs.readFileSync(file, "utf8").split("\n")[0].trim();
    return token.length >= 16 ? token : undefined;
  } catch {
    return undefined;
  }
}

/** SHA-256 of the current enrollment token, or null without one: stored with each worker token it issues. */
export function currentEnrollHash(): string | null {
  const t = currentEnrollToken();
  return t ? sha256Hex(t) : null;
}

/**
 * Checks the enrollment token a new worker presents against the server's (currentEnrollToken).
 * Without one nobody can register: an open registration would hand out leases to anyone.
 */
export function checkEnrollment(presented: string | null, expected: string | undefined = currentEnrollToken()): void {
  if (!expected) {
    throw unavailable("worker registration is disabled: the server has no FRONTIER_ENROLL_TOKEN (or FRONTIER_ENROLL_TOKEN_FILE) set");
  }
  if (!presented) throw unauthorized("missing enrollment token (Authorization: Bearer <token>)");
  if (!sameSecret(presented, expected)) throw unauthorized("wrong enrollment token");
}

/**
 * Registers a worker; the token is returned once and only its SHA-256 is stored, with the hash of
 * the enrollment token that issued it (`enrollHash`, default the current one).
 */
export function registerWorker(
  body: WorkerRegisterBody,
  tx: Tx = getDb(),
  now = Date.now(),
  enrollHash: string | null = currentEnrollHash(),
): { workerId: string; token: string } {
  const workerId = `w_${crypto.randomBytes(9).toString("base64url")}`;
  // 256 random bits: a worker token is a long-lived credential.
  const token = crypto.randomBytes(32).toString("base64url");
  tx.insert(workers)
    .values({
      id: workerId,
      name: body.name,
      tokenHash: sha256Hex(token),
      capabilities: body.capabilities,
      hardware: body.hardware,
      lastHeartbeatAt: now,
      createdAt: now,
      enrollHash,
    })
    .run();
  return { workerId, token };
}

/**
 * The worker owning a bearer token, or a 401: for a missing or unknown token, a revoked worker, and
 * a token issued under an enrollment token that has since been rotated (the worker must re-enroll).
 */
export function authenticateWorker(token: string | null, tx: Tx = getDb()): WorkerRow {
  if (!token) throw unauthorized("missing worker token (Authorization: Bearer <token>)");
  const hash = sha256Hex(token);
  const row = tx.select().from(workers).where(eq(workers.tokenHash, hash)).get();
  if (!row || !crypto.timingSafeEqual(Buffer.from(row.tokenHash), Buffer.from(hash))) throw unauthorized("unknown worker token");
  if (row.revokedAt !== null) throw unauthorized(`worker ${row.id} was revoked; enroll it again with the current enrollment token`);
  if (row.enrollHash !== currentEnrollHash()) {
    throw unauthorized(
      `worker ${row.id}'s token was issued under an enrollment token that has since been rotated; restart the worker with the current enrollment token to re-enroll`,
    );
  }
  return row;
}

/** Revokes a worker's token (401 on its next request); false when no such worker exists. */
export function revokeWorker(id: string, tx: Tx = getDb(), now = Date.now()): boolean {
  const r = tx.update(workers).set({ revokedAt: now }).where(eq(workers.id, id)).run();
  return r.changes > 0;
}

export function touchWorker(workerId: string, tx: Tx = getDb(), now = Date.now()): void {
  tx.update(workers).set({ lastHeartbeatAt: now }).where(eq(workers.id, workerId)).run();
}

/** The hardware_key a worker's runs on `runtime` will carry, from its registered fingerprint. */
export function workerHardwareKey(worker: WorkerRow, runtime: Runtime): string | null {
  const fp = (worker.hardware as Partial<Record<Runtime, HardwareFingerprint>> | null)?.[runtime];
  return fp ? hardwareKey(fp) : null;
}

/** Every registered worker, most recently heard from first, with the runtimes it offers and whether it can still lease. */
export function listWorkers(tx: Tx = getDb()): WorkerInfo[] {
  const enrollHash = currentEnrollHash();
  return tx
    .select({
      id: workers.id,
      name: workers.name,
      capabilities: workers.capabilities,
      lastHeartbeatAt: workers.lastHeartbeatAt,
      revokedAt: workers.revokedAt,
      enrollHash: workers.enrollHash,
    })
    .from(workers)
    .orderBy(desc(workers.lastHeartbeatAt))
    .all()
    .map((w) => ({
      id: w.id,
      name: w.name,
      runtimes: w.capabilities.runtimes ?? [],
      lastHeartbeatAt: w.lastHeartbeatAt,
      status: w.revokedAt !== null ? "revoked" : w.enrollHash !== enrollHash ? "stale" : "active",
    }));
}
