import { handleWrite } from "@/lib/auth";
import { getShareLink, revokeShareLink } from "@/db/queries/share";
import { handle } from "@/lib/http";

type Ctx = { params: Promise<{ token: string }> };

// GET /api/v1/share/:token — the stored view; 410 once revoked or expired
export async function GET(_req: Request, ctx: Ctx) {
  return handle(async () => Response.json(getShareLink((await ctx.params).token)));
}

// DELETE /api/v1/share/:token — revoke the link
export async function DELETE(req: Request, ctx: Ctx) {
  return handleWrite(req, async () => Response.json(revokeShareLink((await ctx.params).token)));
}
