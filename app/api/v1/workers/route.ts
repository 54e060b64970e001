import { handleRead } from "@/lib/auth";
import { listWorkers } from "@/db/queries/workers";

// GET /api/v1/workers — registered workers and the runtimes each offers (never their token hashes)
export async function GET(req: Request) {
  return handleRead(req, () => Response.json({ workers: listWorkers() }));
}
