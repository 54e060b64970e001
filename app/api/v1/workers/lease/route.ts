import { getDb } from "@/db/client";
import { authenticateWorker, bearerToken } from "@/db/queries/workers";
import { claimRun } from "@/db/queries/leases";
import { badRequest, handle, parseOr400, readJson } from "@/lib/http";
import { LeaseBody } from "@/lib/schemas/workers";
import type { Runtime } from "@/lib/domain";

export const dynamic = "force-dynamic";

// POST /api/v1/workers/lease — lease the next queued run for one of the worker's runtimes (204: none)
export function POST(req: Request) {
  return handle(async () => {
    const db = getDb();
    const worker = authenticateWorker(db, bearerToken(req));
    const body = parseOr400(LeaseBody, await readJson(req));
    const offered = worker.capabilities.runtimes as Runtime[];
    const runtimes = body.runtimes ?? offered;
    const foreign = runtimes.filter((r) => !offered.includes(r));
    if (foreign.length > 0) {
      throw badRequest(`runtimes ${foreign.join(", ")} are not among this worker's registered runtimes (${offered.join(", ")})`, [
        { field: "runtimes", message: "must be a subset of the registered capabilities" },
      ]);
    }
    const run = claimRun(db, worker, runtimes);
    return run ? Response.json({ run }) : new Response(null, { status: 204 });
  });
}
