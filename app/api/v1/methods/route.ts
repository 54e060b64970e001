import { handleRead } from "@/lib/auth";
import { METHODS } from "@/lib/methods";
import { describeMethod } from "@/lib/schemas/methods";

export const dynamic = "force-dynamic";

// GET /api/v1/methods — the method registry with each method's params as JSON Schema and defaults
export function GET(req: Request) {
  return handleRead(req, () => Response.json({ methods: METHODS.map(describeMethod) }), { share: "registry" });
}
