import { revokeWorker } from "@/db/queries/workers";
import { handleWrite } from "@/lib/auth";
import { notFound } from "@/lib/errors";

export const dynamic = "force-dynamic";

// POST /api/v1/workers/:id/revoke — revoke a worker's token: its next request is refused with 401
export function POST(req: Request, ctx: { params: Promise<{ id: string }> }) {
  return handleWrite(req, async () => {
    const { id } = await ctx.params;
    if (!revokeWorker(id)) throw notFound(`worker ${id}`);
    return Response.json({ id, revoked: true });
  });
}
