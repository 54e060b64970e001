import { listWorkers } from "@/db/queries/workers";
import { handle } from "@/lib/http";

// GET /api/v1/workers — registered workers and the runtimes each offers (never their token hashes)
export async function GET() {
  return handle(() => Response.json({ workers: listWorkers() }));
}
