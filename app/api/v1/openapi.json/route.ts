import { buildOpenApi } from "@/lib/openapi";

export const dynamic = "force-dynamic";

// GET /api/v1/openapi.json — OpenAPI 3.1 document generated from the request/response schemas
export function GET() {
  return Response.json(buildOpenApi());
}
