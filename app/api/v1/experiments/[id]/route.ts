import { handleRead } from "@/lib/auth";
import { getExperiment } from "@/db/queries/experiments";
import { parseOr400 } from "@/lib/http";
import { IdParams } from "@/lib/schemas/common";

export const dynamic = "force-dynamic";

// GET /api/v1/experiments/:id — one experiment with a summary of each run
export function GET(req: Request, ctx: { params: Promise<{ id: string }> }) {
  return handleRead(
    req,
    async () => {
      const { id } = parseOr400(IdParams, await ctx.params);
      return Response.json(getExperiment(id));
    },
    { share: { experiment: ctx.params } },
  );
}
