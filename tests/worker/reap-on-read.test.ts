/**
 * With no worker alive nobody calls the lease protocol, so the read routes reap expired leases
 * themselves: a dead worker's run goes back to the queue (or fails when its attempts are used up)
 * as soon as someone looks at it.
 */
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { and, eq, inArray, lt } from "drizzle-orm";
import { startApiServer, type ApiServer } from "../helpers/api-server";
import { runs, workers } from "../../db/schema";
import { events, queueBaseline, registerTinyModel, runRow } from "./fixtures";

let api: ApiServer;
const HOUR = 3_600_000;

beforeAll(async () => {
  api = await startApiServer();
  registerTinyModel(api);
});
afterAll(async () => {
  await api?.close();
});
beforeEach(() => {
  api.db
    .update(runs)
    .set({ status: "canceled", leaseExpiresAt: null })
    .where(inArray(runs.status, ["queued", "leased", "running"]))
    .run();
});

/** A run its worker held until `leaseExpiresAt` and then stopped heartbeating. */
function abandoned(leaseExpiresAt: number, attempts = 1, over: Partial<typeof runs.$inferInsert> = {}): number {
  return queueBaseline(api, {
    status: "running",
    attempts,
    maxAttempts: 3,
    leaseToken: "lease-of-a-dead-worker",
    leaseExpiresAt,
    startedAt: leaseExpiresAt - 60_000,
    ...over,
  });
}

const totalChanges = () => (api.db.$client.prepare("SELECT total_changes() AS n").get() as { n: number }).n;

describe("reaping expired leases on read", () => {
  it("GET /api/v1/runs requeues a run whose lease expired and fails one with no attempts left", async () => {
    const retry = abandoned(Date.now() - 1000, 1);
    const last = abandoned(Date.now() - 1000, 3);
    const alive = abandoned(Date.now() + HOUR, 1);

    const res = await fetch(`${api.url}/api/v1/runs?limit=50`);
    expect(res.status).toBe(200);
    const page = (await res.json()) as { runs: { id: number; status: string }[] };
    const statusOf = (id: number) => page.runs.find((r) => r.id === id)?.status;
    // The response already shows the reaped state: the reap ran before the page was read.
    expect(statusOf(retry)).toBe("queued");
    expect(statusOf(last)).toBe("failed");
    expect(statusOf(alive)).toBe("running");

    expect(runRow(api, retry)).toMatchObject({ status: "queued", leaseToken: null, leaseExpiresAt: null, attempts: 1 });
    expect(runRow(api, retry).error).toMatch(/lease expired on attempt 1 of 3/);
    expect(runRow(api, last)).toMatchObject({ status: "failed", leaseToken: null });
    expect(runRow(api, last).error).toMatch(/no attempts left/);
    expect(runRow(api, alive)).toMatchObject({ status: "running", leaseToken: "lease-of-a-dead-worker" });
    expect(events(api, retry).map((e) => e.message)).toEqual(expect.arrayContaining([expect.stringMatching(/^queued: lease expired/)]));
  });

  it("GET /api/v1/runs/:id and GET /api/v1/experiments/:id reap too", async () => {
    const one = abandoned(Date.now() - 1000);
    const detail = (await (await fetch(`${api.url}/api/v1/runs/${one}`)).json()) as { status: string };
    expect(detail.status).toBe("queued");

    const created = await fetch(`${api.url}/api/v1/experiments`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ name: "abandoned", modelId: "tiny", datasetId: "tiny-text", runtime: "cpu", methodId: "baseline", grid: {} }),
    });
    expect(created.status).toBe(201);
    const { id: experimentId, runIds } = (await created.json()) as { id: number; runIds: number[] };
    api.db
      .update(runs)
      .set({ status: "running", attempts: 3, leaseToken: "lease-of-a-dead-worker", leaseExpiresAt: Date.now() - 1000 })
      .where(eq(runs.id, runIds[0]))
      .run();
    const exp = (await (await fetch(`${api.url}/api/v1/experiments/${experimentId}`)).json()) as { runs: { id: number; status: string }[] };
    expect(exp.runs.find((r) => r.id === runIds[0])?.status).toBe("failed");
  });

  it("writes nothing when no lease has expired, and finds expired leases through an index", async () => {
    abandoned(Date.now() + HOUR);
    const before = totalChanges();
    expect((await fetch(`${api.url}/api/v1/runs`)).status).toBe(200);
    expect(totalChanges()).toBe(before);

    // The reap's WHERE clause (db/queries/leases/reap-expired-leases.ts), planned on this database.
    const q = api.db
      .select({ id: runs.id })
      .from(runs)
      .leftJoin(workers, eq(workers.id, runs.workerId))
      .where(and(inArray(runs.status, ["leased", "running"]), lt(runs.leaseExpiresAt, Date.now())))
      .toSQL();
    const plan = api.db.$client.prepare(`EXPLAIN QUERY PLAN ${q.sql}`).all(...q.params) as { detail: string }[];
    expect(plan.map((p) => p.detail).join("\n")).toMatch(/SEARCH runs USING INDEX runs_status_lease \(status=\? AND lease_expires_at<\?\)/);
  });
});
