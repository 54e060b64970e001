import { handleRead, handleWrite } from "@/lib/auth";
import { listModels, registerModel } from "@/db/queries/models";
import { parseOr400, readJson } from "@/lib/http";
import { RegisterModelBody } from "@/lib/schemas/models";

export const dynamic = "force-dynamic";

// GET /api/v1/models — registered base models
export function GET(req: Request) {
  return handleRead(req, () => Response.json({ models: listModels() }), { share: "registry" });
}

// POST /api/v1/models — register a model directory (model.onnx + tokenizer.json) by path
export function POST(req: Request) {
  return handleWrite(req, async () => {
    const body = parseOr400(RegisterModelBody, await readJson(req));
    return Response.json(await registerModel(body), { status: 201 });
  });
}
