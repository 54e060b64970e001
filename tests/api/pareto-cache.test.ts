import Database from "better-sqlite3";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { getDb } from "@/db/client";
import { paretoColumnCache } from "@/db/queries/pareto";
import { runMetrics, runs } from "@/db/schema";
import { GET as getPareto } from "@/app/api/v1/pareto/route";
import { POST as postRun } from "@/app/api/v1/runs/route";
import { PATCH as patchRun } from "@/app/api/v1/runs/[id]/route";
import { call, cleanup, familyRun, freshDb, rng } from "./helpers";

// The metric column cache of GET /api/v1/pareto: same answers as without it, and never stale.
describe("GET /api/v1/pareto column cache", () => {
  let dir: string;
  let other: Database.Database; // a second connection to the same file, as another process would have
  const Q = "/api/v1/pareto?x=latency_ms_p50,model_bytes&y=accuracy&group=family&maxDominated=30";
  const get = async (q = Q) => {
    const res = await call(getPareto, "GET", q);
    expect(res.status).toBe(200);
    return res.json;
  };
  const uncached = async (q = Q) => {
    paretoColumnCache.enabled = false;
    try {
      return await get(q);
    } finally {
      paretoColumnCache.enabled = true;
    }
  };
  const fronts = (json: { charts: { groups: { key: string; front: { runId: number }[] }[] }[] }) =>
    json.charts.map((c) => Object.fromEntries(c.groups.map((g) => [g.key, g.front.map((p) => p.runId)])));

  beforeAll(() => {
    dir = freshDb();
    const r = rng(5);
    getDb().transaction((tx) => {
      for (let i = 0; i < 300; i++) {
        const family = ["baseline", "quantization", "pruning"][i % 3];
        const [{ id }] = tx.insert(runs).values(familyRun(family, i)).returning({ id: runs.id }).all();
        tx.insert(runMetrics)
          .values([
            { runId: id, key: "latency_ms_p50", value: 10 + r() * 90 },
            { runId: id, key: "model_bytes", value: 1e5 + r() * 9e5 },
            { runId: id, key: "accuracy", value: 0.2 + r() * 0.6 },
          ])
          .run();
      }
    });
    other = new Database(process.env.FRONTIER_DB!);
  });
  afterAll(() => {
    other.close();
    cleanup(dir);
  });

  it("answers the same with and without the cache, cold and warm, filtered or not", async () => {
    paretoColumnCache.clear();
    for (const q of [Q, `${Q}&family=pruning`, `${Q.replace("group=family", "group=runtime")}&family=quantization&family=baseline`]) {
      const cold = await get(q);
      const warm = await get(q);
      expect(warm).toEqual(cold);
      expect(await uncached(q)).toEqual(cold);
    }
  });

  it("a run logged through the API shows up in the next identical request", async () => {
    const before = await get();
    const res = await call(postRun, "POST", "/api/v1/runs", {
      body: { methodId: "baseline", modelId: "m", datasetId: "d", runtime: "cpu", metrics: { latency_ms_p50: 1, model_bytes: 1, accuracy: 0.99 } },
    });
    expect(res.status).toBe(201);
    const after = await get();
    expect(after.charts[0].total).toBe(before.charts[0].total + 1);
    for (const f of fronts(after)) expect(f.baseline).toEqual([res.json.id]); // it dominates every baseline run
    expect(after).toEqual(await uncached());
  });

  it("a metric changed and a run completed from another connection show up in the next request", async () => {
    await get(); // warm
    const best = (await get()).charts[0].groups.find((g: { key: string }) => g.key === "pruning").front[0].runId as number;
    // Worsen the front run's latency far past every other pruning run: it must leave the latency front.
    other.prepare("UPDATE run_metrics SET value = 1e6 WHERE run_id = ? AND key = 'latency_ms_p50'").run(best);
    const changed = await get();
    expect(fronts(changed)[0].pruning).not.toContain(best);
    expect(changed).toEqual(await uncached());

    // A queued run completed by direct SQL, the way a worker process's completion lands.
    const id = Number(
      other
        .prepare(
          "INSERT INTO runs (method_id, family, params, model_id, dataset_id, runtime, status, tags, created_at, updated_at) VALUES ('pruning.x', 'pruning', '{}', 'm', 'd', 'cpu', 'queued', '[]', 0, 0)",
        )
        .run().lastInsertRowid,
    );
    await get(); // warm again, with the queued run in the filter but no metrics
    other.transaction(() => {
      other.prepare("UPDATE runs SET status = 'succeeded' WHERE id = ?").run(id);
      const m = other.prepare("INSERT INTO run_metrics (run_id, key, value) VALUES (?, ?, ?)");
      m.run(id, "latency_ms_p50", 0.5);
      m.run(id, "model_bytes", 0.5);
      m.run(id, "accuracy", 0.999);
    })();
    const done = await get();
    for (const f of fronts(done)) expect(f.pruning).toEqual([id]);
    expect(done).toEqual(await uncached());
  });

  it("a PATCH of tags changes a tag-filtered answer at once", async () => {
    const q = `${Q}&tag=keep`;
    expect((await get(q)).charts[0].total).toBe(0);
    const id = (await get()).charts[1].groups[0].front[0].runId as number;
    const p = await call(patchRun, "PATCH", `/api/v1/runs/${id}`, { params: { id: String(id) }, body: { tags: ["keep"] } });
    expect(p.status).toBe(200);
    const tagged = await get(q);
    expect(tagged.charts.map((c: { total: number }) => c.total)).toEqual([1, 1]);
    expect(tagged.charts[1].groups[0].front[0].runId).toBe(id);
  });

  it("an update that changes no row keeps the cached columns, one that does drops them", () => {
    const c = getDb().$client;
    const v = () => [c.pragma("data_version", { simple: true }), c.prepare("SELECT total_changes()").pluck(true).get()];
    const v0 = v();
    c.prepare("UPDATE runs SET status = 'failed' WHERE id = -1").run(); // the shape of a reap with nothing expired
    expect(v()).toEqual(v0);
    c.prepare("UPDATE runs SET notes = 'n' WHERE id = 1").run();
    expect(v()[1]).toBe((v0[1] as number) + 1);
    other.prepare("UPDATE runs SET notes = 'm' WHERE id = 1").run();
    expect(v()[0]).not.toBe(v0[0]);
  });
});
