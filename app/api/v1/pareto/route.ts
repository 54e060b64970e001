import { handleRead } from "@/lib/auth";
import { paretoFronts } from "@/db/queries/pareto";
import { parseRunQuery } from "@/lib/schemas/filters";
import { ParetoQuery } from "@/lib/schemas/pareto";

export const dynamic = "force-dynamic";

// GET /api/v1/pareto — non-dominated runs per group for two metrics, with hypervolumes
export function GET(req: Request) {
  return handleRead(
    req,
    () => {
      const { filter, extra } = parseRunQuery(new URL(req.url).searchParams, ParetoQuery);
      return Response.json(paretoFronts(filter, extra));
    },
    { share: "runs" },
  );
}
