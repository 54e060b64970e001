import crypto from "node:crypto";
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
 * Checks the enrollment token a new worker presents against the server's FRONTIER_ENROLL_TOKEN.
 * Without that setting nobody can register: an open registration would hand out leases to anyone.
 */
export function checkEnrollment(presented: string | null, expected: string | undefined = envSetting("FRONTIER_ENROLL_TOKEN")): void {
  if (!expected) {
    throw unavailable("worker registration is disabled: the server has no FRONTIER_ENROLL_TOKEN set");
  }
  if (!presented) throw unauthorized("missing enrollment token (Authorization: Bearer <token>)");
  if (!sameSecret(presented, expected)) throw unauthorized("wrong enrollment token");
}

/** Registers a worker; the token is returned once and only its SHA-256 is stored. */
export function registerWorker(body: WorkerRegisterBody, tx: Tx = getDb(), now = Date.now()): { workerId: string; token: string } {
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
    })
    .run();
  return { workerId, token };
}

/** The worker owning a bearer token, or a 401. */
export function authenticateWorker(token: string | null, tx: Tx = getDb()): WorkerRow {
  if (!token) throw unauthorized("missing worker token (Authorization: Bearer <token>)");
  const row = tx
    .select()
    .from(workers)
    .where(eq(workers.tokenHash, sha256Hex(token)))
    .get();
  if (!row) throw unauthorized("unknown worker token");
  return row;
}

export function touchWorker(workerId: string, tx: Tx = getDb(), now = Date.now()): void {
  tx.update(workers).set({ lastHeartbeatAt: now }).where(eq(workers.id, workerId)).run();
}

/** The hardware_key a worker's runs on `runtime` will carry, from its registered fingerprint. */
export function workerHardwareKey(worker: WorkerRow, runtime: Runtime): string | null {
  const fp = (worker.hardware as Partial<Record<Runtime, HardwareFingerprint>> | null)?.[runtime];
  return fp ? hardwareKey(fp) : null;
}

/** Every registered worker, most recently heard from first, with the runtimes it offers. */
export function listWorkers(tx: Tx = getDb()): WorkerInfo[] {
  return tx
    .select({ id: workers.id, name: workers.name, capabilities: workers.capabilities, lastHeartbeatAt: workers.lastHeartbeatAt })
    .from(workers)
    .orderBy(desc(workers.lastHeartbeatAt))
    .all()
    .map((w) => ({ id: w.id, name: w.name, runtimes: w.capabilities.runtimes ?? [], lastHeartbeatAt: w.lastHeartbeatAt }));
}
