import { completeRun } from "@/db/queries/leases";
import { CompleteBody } from "@/lib/schemas/workers";
import { withWorkerRun } from "../../../_lib/with-worker";

export const dynamic = "force-dynamic";

// POST /api/v1/runs/:id/complete — the lease holder reports metrics, artifacts and hardware; the run succeeds
export function POST(req: Request, ctx: { params: Promise<{ id: string }> }) {
  return withWorkerRun(req, ctx, CompleteBody, ({ id, worker, body }) => completeRun(id, worker, body));
}
