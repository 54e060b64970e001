import { handleRead, handleWrite } from "@/lib/auth";
import { listRuns, logRun } from "@/db/queries/runs";
import { parseOr400, readJson } from "@/lib/http";
import { parseRunQuery } from "@/lib/schemas/filters";
import { LogRunBody, RunsPageQuery } from "@/lib/schemas/runs";

export const dynamic = "force-dynamic";

// GET /api/v1/runs — filtered, sorted page of runs
export function GET(req: Request) {
  return handleRead(
    req,
    () => {
      const { filter, extra } = parseRunQuery(new URL(req.url).searchParams, RunsPageQuery);
      return Response.json(listRuns(filter, extra));
    },
    { share: "runs" },
  );
}

// POST /api/v1/runs — log a run executed outside Frontier
export function POST(req: Request) {
  return handleWrite(req, async () => {
    const body = parseOr400(LogRunBody, await readJson(req));
    return Response.json(logRun(body), { status: 201 });
  });
}
