import { handleWrite } from "@/lib/auth";
import { retryRun } from "@/db/queries/runs";
import { parseOr400 } from "@/lib/http";
import { IdParams } from "@/lib/schemas/common";

export const dynamic = "force-dynamic";

// POST /api/v1/runs/:id/retry — queue a failed or canceled run again with its attempts reset
export function POST(req: Request, ctx: { params: Promise<{ id: string }> }) {
  return handleWrite(req, async () => {
    const { id } = parseOr400(IdParams, await ctx.params);
    return Response.json(retryRun(id));
  });
}
