import { handleWrite } from "@/lib/auth";
import { createShareLink } from "@/db/queries/share";
import { parseOr400, readJson } from "@/lib/http";
import { publicBaseUrl } from "@/lib/public-url";
import { CreateShareRequest } from "@/lib/schemas/share";

// POST /api/v1/share — store a dashboard view and answer its short read-only link
export async function POST(req: Request) {
  return handleWrite(req, async () => {
    const body = parseOr400(CreateShareRequest, await readJson(req));
    const { token, expiresAt } = createShareLink(body);
    const url = `${publicBaseUrl(req)}/s/${token}`;
    return Response.json({ token, url, expiresAt }, { status: 201 });
  });
}
