import { handleRead, handleWrite } from "@/lib/auth";
import { getMetricSeries, insertMetricPoints } from "@/db/queries/runs";
import { MAX_BATCH_BODY_BYTES, parseOr400, readJson, searchParamsObject } from "@/lib/http";
import { IdParams } from "@/lib/schemas/common";
import { MetricPointsBody, MetricSeriesQuery } from "@/lib/schemas/runs";

export const dynamic = "force-dynamic";

// GET /api/v1/runs/:id/metrics — the run's time series (one key with ?key=)
export function GET(req: Request, ctx: { params: Promise<{ id: string }> }) {
  return handleRead(
    req,
    async () => {
      const { id } = parseOr400(IdParams, await ctx.params);
      const { key } = parseOr400(MetricSeriesQuery, searchParamsObject(new URL(req.url).searchParams));
      return Response.json(getMetricSeries(id, key));
    },
    { share: { run: ctx.params } },
  );
}

// POST /api/v1/runs/:id/metrics — append up to 10,000 time-series points in one transaction;
// 201 when stored, 200 with replayed: true when the batch's batchId was stored before
export function POST(req: Request, ctx: { params: Promise<{ id: string }> }) {
  return handleWrite(req, async () => {
    const { id } = parseOr400(IdParams, await ctx.params);
    const body = parseOr400(MetricPointsBody, await readJson(req, { limit: MAX_BATCH_BODY_BYTES }));
    const result = insertMetricPoints(id, body);
    return Response.json(result, { status: result.replayed ? 200 : 201 });
  });
}
