import { desc } from "drizzle-orm";
import { getDb } from "@/db/client";
import { workers } from "@/db/schema";
import { handle } from "@/lib/http";

// GET /api/v1/workers — registered workers and the runtimes each offers (never their token hashes)
export async function GET() {
  return handle(() => {
    const rows = getDb()
      .select({ id: workers.id, name: workers.name, capabilities: workers.capabilities, lastHeartbeatAt: workers.lastHeartbeatAt })
      .from(workers)
      .orderBy(desc(workers.lastHeartbeatAt))
      .all();
    return Response.json({
      workers: rows.map((w) => ({ id: w.id, name: w.name, runtimes: w.capabilities.runtimes ?? [], lastHeartbeatAt: w.lastHeartbeatAt })),
    });
  });
}
