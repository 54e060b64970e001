import { failRun } from "@/db/queries/leases";
import { FailBody } from "@/lib/schemas/workers";
import { withWorkerRun } from "../../../_lib/with-worker";

export const dynamic = "force-dynamic";

// POST /api/v1/runs/:id/fail — the lease holder ends its attempt with an error (requeued with backoff if retryable)
export function POST(req: Request, ctx: { params: Promise<{ id: string }> }) {
  return withWorkerRun(req, ctx, FailBody, ({ id, worker, body }) => failRun(id, worker, body));
}
