import { heartbeatRun } from "@/db/queries/leases";
import { HeartbeatBody } from "@/lib/schemas/workers";
import { withWorkerRun } from "../../../_lib/with-worker";

export const dynamic = "force-dynamic";

// POST /api/v1/runs/:id/heartbeat — extend the lease, record stage/progress/logs; says whether the run was canceled
export function POST(req: Request, ctx: { params: Promise<{ id: string }> }) {
  return withWorkerRun(req, ctx, HeartbeatBody, ({ id, worker, body }) => heartbeatRun(id, worker, body));
}
