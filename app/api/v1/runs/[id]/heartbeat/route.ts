import { getDb } from "@/db/client";
import { authenticateWorker, bearerToken } from "@/db/queries/workers";
import { heartbeatRun } from "@/db/queries/leases";
import { handle, parseOr400, readJson } from "@/lib/http";
import { IdParams } from "@/lib/schemas/common";
import { HeartbeatBody } from "@/lib/schemas/workers";

export const dynamic = "force-dynamic";

// POST /api/v1/runs/:id/heartbeat — extend the lease, record stage/progress/logs; says whether the run was canceled
export function POST(req: Request, ctx: { params: Promise<{ id: string }> }) {
  return handle(async () => {
    const { id } = parseOr400(IdParams, await ctx.params);
    const db = getDb();
    const worker = authenticateWorker(db, bearerToken(req));
    const body = parseOr400(HeartbeatBody, await readJson(req));
    return Response.json(heartbeatRun(db, id, worker, body));
  });
}
