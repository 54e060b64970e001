import { handleWrite } from "@/lib/auth";
import { bulkTagRuns } from "@/db/queries/run-tags";
import { parseOr400, readJson } from "@/lib/http";
import { BulkTagsBody } from "@/lib/schemas/run-groups";

// POST /api/v1/runs/tags — add and/or remove tags on up to 1000 runs in one transaction
export function POST(req: Request) {
  return handleWrite(req, async () => {
    const body = parseOr400(BulkTagsBody, await readJson(req));
    return Response.json(bulkTagRuns(body));
  });
}
