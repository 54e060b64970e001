import { getDb } from "@/db/client";
import { authenticateWorker, bearerToken } from "@/db/queries/workers";
import { failRun } from "@/db/queries/leases";
import { handle, parseOr400, readJson } from "@/lib/http";
import { IdParams } from "@/lib/schemas/common";
import { FailBody } from "@/lib/schemas/workers";

export const dynamic = "force-dynamic";

// POST /api/v1/runs/:id/fail — the lease holder ends its attempt with an error (requeued with backoff if retryable)
export function POST(req: Request, ctx: { params: Promise<{ id: string }> }) {
  return handle(async () => {
    const { id } = parseOr400(IdParams, await ctx.params);
    const db = getDb();
    const worker = authenticateWorker(db, bearerToken(req));
    const body = parseOr400(FailBody, await readJson(req));
    return Response.json(failRun(db, id, worker, body));
  });
}
