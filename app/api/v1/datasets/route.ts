import { handleRead, handleWrite } from "@/lib/auth";
import { listDatasets, registerDataset } from "@/db/queries/datasets";
import { parseOr400, readJson } from "@/lib/http";
import { RegisterDatasetBody } from "@/lib/schemas/datasets";

export const dynamic = "force-dynamic";

// GET /api/v1/datasets — registered evaluation datasets
export function GET(req: Request) {
  return handleRead(req, () => Response.json({ datasets: listDatasets() }), { share: "registry" });
}

// POST /api/v1/datasets — register a JSONL dataset file by path, its lines checked against the task
export function POST(req: Request) {
  return handleWrite(req, async () => {
    const body = parseOr400(RegisterDatasetBody, await readJson(req));
    return Response.json(await registerDataset(body), { status: 201 });
  });
}
