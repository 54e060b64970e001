import { handleWrite } from "@/lib/auth";
import { deleteSavedView } from "@/db/queries/saved-views";
import { parseOr400 } from "@/lib/http";
import { IdParams } from "@/lib/schemas/common";

// DELETE /api/v1/views/:id — delete a saved view; answers what it was, so the dashboard can undo
export function DELETE(req: Request, ctx: { params: Promise<{ id: string }> }) {
  return handleWrite(req, async () => {
    const { id } = parseOr400(IdParams, await ctx.params);
    return Response.json(deleteSavedView(id));
  });
}
