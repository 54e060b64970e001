import { getDb } from "@/db/client";
import { sql } from "drizzle-orm";

export const dynamic = "force-dynamic";

// GET /api/v1/health — liveness plus a database round trip
export function GET() {
  const db = getDb();
  const row = db.get<{ runs: number }>(sql`select count(*) as runs from runs`);
  return Response.json({ status: "ok", runs: row.runs, time: new Date().toISOString() });
}
