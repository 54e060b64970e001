import { getDb } from "@/db/client";
import { noteDbFault } from "@/lib/db-fault";

export const dynamic = "force-dynamic";

/**
 * GET /api/v1/health — liveness plus a database write check: it rewrites the one row of
 * health_probe, so a read-only database file, a full disk or a lock held past the busy timeout
 * answers 503 `{status: "degraded", reason}` instead of ok while writes fail.
 */
export function GET() {
  const time = new Date().toISOString();
  try {
    const client = getDb().$client;
    client.prepare("INSERT INTO health_probe (id, checked_at) VALUES (1, ?) ON CONFLICT (id) DO UPDATE SET checked_at = excluded.checked_at").run(Date.now());
    const row = client.prepare("SELECT count(*) AS runs FROM runs").get() as { runs: number };
    return Response.json({ status: "ok", runs: row.runs, time });
  } catch (e) {
    const fault = noteDbFault(e);
    console.error("health check failed:", e);
    const reason = fault ? fault.message : `database check failed: ${e instanceof Error ? e.message : String(e)}`;
    const headers = fault?.retryAfterS ? { "Retry-After": String(fault.retryAfterS) } : undefined;
    return Response.json({ status: "degraded", reason, time }, { status: 503, headers });
  }
}
