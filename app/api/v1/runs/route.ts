import { handleRead, handleWrite } from "@/lib/auth";
import { listRunGroups } from "@/db/queries/run-groups";
import { listRuns, logRun } from "@/db/queries/runs";
import { parseOr400, readJson } from "@/lib/http";
import { parseRunQuery } from "@/lib/schemas/filters";
import { RunsListQuery } from "@/lib/schemas/run-groups";
import { LogRunBody } from "@/lib/schemas/runs";

export const dynamic = "force-dynamic";

// GET /api/v1/runs — filtered, sorted page of runs (aggregate=seeds: of seed sets)
export function GET(req: Request) {
  return handleRead(
    req,
    () => {
      const { filter, extra } = parseRunQuery(new URL(req.url).searchParams, RunsListQuery);
      const { aggregate, ...page } = extra;
      return Response.json(aggregate === "seeds" ? listRunGroups(filter, page) : listRuns(filter, page));
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
