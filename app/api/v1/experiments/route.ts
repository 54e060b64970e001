import { handleRead, handleWrite } from "@/lib/auth";
import { createExperiment, listExperiments } from "@/db/queries/experiments";
import { parseOr400, readJson } from "@/lib/http";
import { CreateExperimentBody } from "@/lib/schemas/experiments";

export const dynamic = "force-dynamic";

// GET /api/v1/experiments — every experiment with its runs counted by status
export function GET(req: Request) {
  return handleRead(req, () => Response.json({ experiments: listExperiments() }));
}

// POST /api/v1/experiments — create an experiment and queue one run per grid point
export function POST(req: Request) {
  return handleWrite(req, async () => {
    const body = parseOr400(CreateExperimentBody, await readJson(req));
    return Response.json(createExperiment(body), { status: 201 });
  });
}
