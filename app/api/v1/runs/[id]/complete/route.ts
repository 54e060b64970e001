import { getDb } from "@/db/client";
import { authenticateWorker, bearerToken } from "@/db/queries/workers";
import { completeRun } from "@/db/queries/leases";
import { handle, parseOr400, readJson } from "@/lib/http";
import { IdParams } from "@/lib/schemas/common";
import { CompleteBody } from "@/lib/schemas/workers";

export const dynamic = "force-dynamic";

// POST /api/v1/runs/:id/complete — the lease holder reports metrics, artifacts and hardware; the run succeeds
export function POST(req: Request, ctx: { params: Promise<{ id: string }> }) {
  return handle(async () => {
    const { id } = parseOr400(IdParams, await ctx.params);
    const db = getDb();
    const worker = authenticateWorker(db, bearerToken(req));
    const body = parseOr400(CompleteBody, await readJson(req));
    return Response.json(completeRun(db, id, worker, body));
  });
}
