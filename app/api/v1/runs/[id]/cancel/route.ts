import { handleWrite } from "@/lib/auth";
import { cancelRun } from "@/db/queries/runs";
import { parseOr400 } from "@/lib/http";
import { IdParams } from "@/lib/schemas/common";

export const dynamic = "force-dynamic";

// POST /api/v1/runs/:id/cancel — cancel a queued, leased or running run
export function POST(req: Request, ctx: { params: Promise<{ id: string }> }) {
  return handleWrite(req, async () => {
    const { id } = parseOr400(IdParams, await ctx.params);
    return Response.json(cancelRun(id));
  });
}
