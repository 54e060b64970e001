/** Lease timing: how long a lease lives without a heartbeat, and how long a retried run waits. */

const DEFAULT_LEASE_MS = 60_000;
const DEFAULT_RETRY_BASE_MS = 1_000;
const MAX_RETRY_DELAY_MS = 5 * 60_000;

function positiveIntEnv(name: string, fallback: number): number {
  const raw = process.env[name];
  if (raw === undefined || raw === "") return fallback;
  const n = Number(raw);
  if (!Number.isInteger(n) || n <= 0) throw new Error(`${name} must be a positive integer of milliseconds, got "${raw}"`);
  return n;
}

/** Lease duration; FRONTIER_LEASE_MS overrides it (tests use a few seconds). */
export const leaseDurationMs = () => positiveIntEnv("FRONTIER_LEASE_MS", DEFAULT_LEASE_MS);

/**
 * Delay before a run that failed or lost its lease may be leased again: 2^attempts × base
 * (base 1 s, so 2 s, 4 s, 8 s …), capped at 5 minutes. FRONTIER_RETRY_BASE_MS overrides the base.
 */
export function retryDelayMs(attempts: number): number {
  const base = positiveIntEnv("FRONTIER_RETRY_BASE_MS", DEFAULT_RETRY_BASE_MS);
  return Math.min(MAX_RETRY_DELAY_MS, base * 2 ** Math.min(attempts, 20));
}
