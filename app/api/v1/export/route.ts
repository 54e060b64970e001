import { exportChunks, exportLayout } from "@/db/queries/export";
import { csvCell, csvLine } from "@/lib/export/csv";
import { csvRunEncoder, exportHeader } from "@/lib/export/columns";
import { handle } from "@/lib/http";
import { ExportQuery } from "@/lib/schemas/export";
import { parseRunQuery } from "@/lib/schemas/filters";

export const dynamic = "force-dynamic";

// GET /api/v1/export — every run matching the filter as CSV or JSON, streamed in chunks
export function GET(req: Request) {
  return handle(() => {
    const { filter, extra } = parseRunQuery(new URL(req.url).searchParams, ExportQuery);
    const csv = extra.format === "csv";
    const layout = csv ? exportLayout(filter) : null;
    const encode = layout ? csvRunEncoder(layout, csvCell) : null;
    const chunks = exportChunks(filter);
    const enc = new TextEncoder();
    let first = true;
    const body = new ReadableStream<Uint8Array>({
      start(controller) {
        controller.enqueue(enc.encode(layout ? csvLine(exportHeader(layout)) : "["));
      },
      pull(controller) {
        const next = chunks.next();
        if (next.done) {
          if (!csv) controller.enqueue(enc.encode("]\n"));
          controller.close();
          return;
        }
        let out = "";
        for (const run of next.value) {
          if (encode) out += encode(run);
          else {
            out += (first ? "\n" : ",\n") + JSON.stringify(run);
            first = false;
          }
        }
        controller.enqueue(enc.encode(out));
      },
      cancel() {
        chunks.return(undefined);
      },
    });
    const stamp = new Date().toISOString().slice(0, 19).replace(/[:T]/g, "-");
    return new Response(body, {
      headers: {
        "content-type": csv ? "text/csv; charset=utf-8" : "application/json; charset=utf-8",
        "content-disposition": `attachment; filename="frontier-runs-${stamp}.${extra.format}"`,
        "cache-control": "no-store",
      },
    });
  });
}
