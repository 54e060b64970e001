import { handleRead, handleWrite } from "@/lib/auth";
import { createSavedView, listSavedViews } from "@/db/queries/saved-views";
import { parseOr400, readJson } from "@/lib/http";
import { CreateSavedViewBody } from "@/lib/schemas/saved-views";

export const dynamic = "force-dynamic";

// GET /api/v1/views — saved dashboard views, by name
export function GET(req: Request) {
  return handleRead(req, () => Response.json({ views: listSavedViews() }));
}

// POST /api/v1/views — name the current view (409 when the name is taken)
export function POST(req: Request) {
  return handleWrite(req, async () => {
    const body = parseOr400(CreateSavedViewBody, await readJson(req));
    return Response.json(createSavedView(body), { status: 201 });
  });
}
