import { handleRead } from "@/lib/auth";
import { exportStream } from "@/db/queries/export";
import { ExportQuery } from "@/lib/schemas/export";
import { parseRunQuery } from "@/lib/schemas/filters";

export const dynamic = "force-dynamic";

// GET /api/v1/export — every run matching the filter as CSV or JSON, streamed in chunks
export function GET(req: Request) {
  return handleRead(req, () => {
    const { filter, extra } = parseRunQuery(new URL(req.url).searchParams, ExportQuery);
    const stamp = new Date().toISOString().slice(0, 19).replace(/[:T]/g, "-");
    return new Response(exportStream(filter, extra.format, undefined, { bom: extra.bom === "1" }), {
      headers: {
        "content-type": extra.format === "csv" ? "text/csv; charset=utf-8" : "application/json; charset=utf-8",
        "content-disposition": `attachment; filename="frontier-runs-${stamp}.${extra.format}"`,
        "cache-control": "no-store",
      },
    });
  });
}
