import { listModels, registerModel } from "@/db/queries/models";
import { handle, parseOr400, readJson } from "@/lib/http";
import { RegisterModelBody } from "@/lib/schemas/models";

export const dynamic = "force-dynamic";

// GET /api/v1/models — registered base models
export function GET() {
  return handle(() => Response.json({ models: listModels() }));
}

// POST /api/v1/models — register a model directory (model.onnx + tokenizer.json) by path
export function POST(req: Request) {
  return handle(async () => {
    const body = parseOr400(RegisterModelBody, await readJson(req));
    return Response.json(await registerModel(body), { status: 201 });
  });
}
