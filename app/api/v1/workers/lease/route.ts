import { claimRun } from "@/db/queries/leases";
import { leaseRuntimes } from "@/lib/leases";
import { LeaseBody } from "@/lib/schemas/workers";
import type { Runtime } from "@/lib/domain";
import { withWorker } from "../../_lib/with-worker";

export const dynamic = "force-dynamic";

// POST /api/v1/workers/lease — lease the next queued run for one of the worker's runtimes (204: none)
export function POST(req: Request) {
  return withWorker(req, LeaseBody, ({ worker, body }) => {
    const run = claimRun(worker, leaseRuntimes(worker.capabilities.runtimes as Runtime[], body.runtimes));
    return run ? { run } : new Response(null, { status: 204 });
  });
}
