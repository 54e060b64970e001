/** The lease protocol's server side: one small module per operation. */
export { claimRun, type ClaimOptions } from "./claim-run";
export { heartbeatRun } from "./heartbeat-run";
export { completeRun } from "./complete-run";
export { failRun } from "./fail-run";
export { reapExpiredLeases } from "./reap-expired-leases";
export { baselineFor } from "./baseline-for";
export { leaseDurationMs, retryDelayMs } from "./config";
