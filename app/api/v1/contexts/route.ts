import { z } from "zod";
import { listContexts } from "@/db/queries/pareto";
import { handleRead } from "@/lib/auth";
import { parseRunQuery } from "@/lib/schemas/filters";

export const dynamic = "force-dynamic";

// GET /api/v1/contexts — the (model, dataset, runtime, hardware) contexts of the runs matching the
// filter, most recent first, with run counts and each context's baseline run: what the explorer's
// context picker lists, since a Pareto front is only drawn within one context.
export function GET(req: Request) {
  return handleRead(
    req,
    () => {
      const { filter } = parseRunQuery(new URL(req.url).searchParams, z.object({}));
      return Response.json({ contexts: listContexts(filter) });
    },
    { share: "runs" },
  );
}
