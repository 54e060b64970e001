/** Lease timing: how long a lease lives without a heartbeat, and how long a retried run waits. */
import { envSetting } from "../../../lib/env";

const MAX_RETRY_DELAY_MS = 5 * 60_000;

/** Lease duration; FRONTIER_LEASE_MS overrides it (tests use a few seconds). Defaults: lib/env.ts. */
export const leaseDurationMs = () => envSetting("FRONTIER_LEASE_MS");

/**
 * Delay before a run that failed or lost its lease may be leased again: 2^attempts × base
 * (base 1 s, so 2 s, 4 s, 8 s …), capped at 5 minutes. FRONTIER_RETRY_BASE_MS overrides the base.
 */
export function retryDelayMs(attempts: number): number {
  const base = envSetting("FRONTIER_RETRY_BASE_MS");
  return Math.min(MAX_RETRY_DELAY_MS, base * 2 ** Math.min(attempts, 20));
}
