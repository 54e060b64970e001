import { handleRead, handleWrite } from "@/lib/auth";
import { getRunDetail, patchRun } from "@/db/queries/runs";
import { parseOr400, readJson } from "@/lib/http";
import { IdParams } from "@/lib/schemas/common";
import { PatchRunBody } from "@/lib/schemas/runs";

export const dynamic = "force-dynamic";

// GET /api/v1/runs/:id — a run with params, labelled metrics, hardware, history, logs and artifacts
export function GET(req: Request, ctx: { params: Promise<{ id: string }> }) {
  return handleRead(
    req,
    async () => {
      const { id } = parseOr400(IdParams, await ctx.params);
      return Response.json(getRunDetail(id));
    },
    { share: { run: ctx.params } },
  );
}

// PATCH /api/v1/runs/:id — edit a run's tags and notes
export function PATCH(req: Request, ctx: { params: Promise<{ id: string }> }) {
  return handleWrite(req, async () => {
    const { id } = parseOr400(IdParams, await ctx.params);
    const body = parseOr400(PatchRunBody, await readJson(req));
    return Response.json(patchRun(id, body));
  });
}
