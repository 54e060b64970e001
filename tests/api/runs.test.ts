import { afterAll, beforeAll, describe, expect, it, onTestFinished } from "vitest";
import { listRuns as listRunsQuery } from "@/db/queries/runs";
import { emptyFilter } from "@/lib/schemas/filters";
import { getDb } from "@/db/client";
import { runs } from "@/db/schema";
import { GET as listRuns, POST as postRun } from "@/app/api/v1/runs/route";
import { GET as getRun, PATCH as patchRun } from "@/app/api/v1/runs/[id]/route";
import { POST as cancelRun } from "@/app/api/v1/runs/[id]/cancel/route";
import { POST as retryRun } from "@/app/api/v1/runs/[id]/retry/route";
import { GET as getSeries, POST as postPoints } from "@/app/api/v1/runs/[id]/metrics/route";
import { call, cleanup, count, fields, freshDb, loggedRun, rng, snapshot } from "./helpers";

interface Seeded {
  id: number;
  methodId: string;
  family: string;
  runtime: string;
  hardwareKey: string | null;
  status: string;
  tags: string[];
  startedAt: number | null;
  metrics: Record<string, number>;
}

let dir: string;
const seeded: Seeded[] = [];
const METHODS = [
  { id: "baseline", family: "baseline", params: {} },
  { id: "quant.rtn", family: "quantization", params: { bits: 4 } },
  { id: "prune.magnitude", family: "pruning", params: {} },
  { id: "tokens.h2o", family: "tokens", params: { budget: 32 } },
];
const HW = [{ label: "cpu-box" }, { label: "gpu-box" }, undefined];

beforeAll(async () => {
  dir = freshDb();
  const rand = rng(7);
  for (let i = 0; i < 160; i++) {
    const m = METHODS[Math.floor(rand() * METHODS.length)];
    const hw = HW[Math.floor(rand() * HW.length)];
    const metrics: Record<string, number> = {};
    if (rand() < 0.8) metrics.accuracy = Math.round(rand() * 20) / 20; // coarse values: many ties
    if (rand() < 0.7) metrics.perplexity = 5 + Math.round(rand() * 100) / 10;
    if (rand() < 0.3) metrics["custom/score"] = -Math.round(rand() * 10);
    const runtime = rand() < 0.5 ? "cpu" : "wasm";
    const body = {
      ...loggedRun(m, runtime),
      hardware: hw,
      status: rand() < 0.8 ? "succeeded" : "failed",
      metrics,
      tags: rand() < 0.3 ? ["a"] : rand() < 0.5 ? ["b", "c"] : [],
      startedAt: rand() < 0.6 ? 1_000_000 + Math.floor(rand() * 50) : undefined,
    };
    const r = await call(postRun, "POST", "/api/v1/runs", { body });
    expect(r.status).toBe(201);
    seeded.push({
      id: r.json.id,
      methodId: m.id,
      family: m.family,
      runtime: body.runtime,
      hardwareKey: r.json.hardwareKey,
      status: body.status,
      tags: body.tags,
      startedAt: body.startedAt ?? null,
      metrics,
    });
  }
});
afterAll(() => cleanup(dir));

async function allPages(query: string, limit = 7): Promise<{ ids: number[]; total: number; pages: number }> {
  const ids: number[] = [];
  let cursor: string | null = null;
  let pages = 0;
  let total = -1;
  do {
    const q: string = `/api/v1/runs?${query}&limit=${limit}${cursor ? `&cursor=${cursor}` : ""}`;
    const r = await call(listRuns, "GET", q);
    expect(r.status, JSON.stringify(r.json)).toBe(200);
    expect(r.json.runs.length).toBeLessThanOrEqual(limit);
    ids.push(...r.json.runs.map((x: { id: number }) => x.id));
    cursor = r.json.nextCursor;
    total = r.json.total;
    pages++;
  } while (cursor && pages < 1000);
  return { ids, total, pages };
}

describe("POST /api/v1/runs", () => {
  it("stores a logged run with params defaults, metrics, hardware key and baseline link", async () => {
    const hw = { cpuModel: "AMD EPYC 7B13 64-Core Processor", cpuCores: 2, memoryBytes: 1e9, platform: "linux", nodeVersion: "20", ortVersion: "1.30.0" };
    const b = await call(postRun, "POST", "/api/v1/runs", {
      body: { methodId: "baseline", modelId: "mx", datasetId: "dx", runtime: "cpu", hardware: hw, metrics: { accuracy: 0.5 } },
    });
    expect(b.status).toBe(201);
    // Removed afterwards (even on failure) so the seeded set stays the only data the list tests see.
    onTestFinished(() => void getDb().$client.prepare("DELETE FROM runs WHERE model_id = 'mx'").run());
    expect(b.json.hardwareKey).toBe("cpu · AMD EPYC 7B13 ×2");
    const r = await call(postRun, "POST", "/api/v1/runs", {
      body: {
        methodId: "quant.rtn",
        params: { bits: 8 },
        modelId: "mx",
        datasetId: "dx",
        runtime: "cpu",
        hardware: hw,
        metrics: { accuracy: 0.49, "my.metric": 3 },
        tags: ["t1"],
        notes: "n",
      },
    });
    expect(r.status).toBe(201);
    expect(r.json).toMatchObject({ baselineRunId: b.json.id, unknownMetricKeys: ["my.metric"] });
    const d = await call(getRun, "GET", `/api/v1/runs/${r.json.id}`, { params: { id: String(r.json.id) } });
    expect(d.status).toBe(200);
    expect(d.json).toMatchObject({
      methodId: "quant.rtn",
      family: "quantization",
      source: "logged",
      status: "succeeded",
      tags: ["t1"],
      notes: "n",
      baselineRunId: b.json.id,
    });
    // a logged run stores exactly the parameters it was given: no defaults filled in as if the user had said so
    expect(d.json.params).toEqual({ bits: 8 });
    expect(d.json.hardware).toEqual(hw);
    const acc = d.json.metrics.find((m: { key: string }) => m.key === "accuracy");
    expect(acc).toMatchObject({ value: 0.49, label: "Accuracy", unit: "ratio", direction: "higher", known: true });
    expect(d.json.metrics.find((m: { key: string }) => m.key === "my.metric")).toMatchObject({ known: false, direction: "higher" });
    expect(d.json.statusHistory.map((e: { message: string }) => e.message)).toEqual(["logged as succeeded"]);
  });

  const bad: [string, Record<string, unknown>, string[]][] = [
    ["an unregistered method", { methodId: "my-own-method" }, ["methodId"]],
    ["an unknown param", { methodId: "quant.rtn", params: { bitz: 4 } }, ["params.bitz"]],
    ["an out-of-range param", { methodId: "quant.rtn", params: { bits: 5 } }, ["params.bits"]],
    ["a non-numeric metric", { metrics: { accuracy: "high" } }, ["metrics.accuracy"]],
    ["a metric key with spaces", { metrics: { "two words": 1 } }, ["metrics.two words"]],
    ["a status a logged run cannot have", { status: "running" }, ["status"]],
    ["finishedAt before startedAt", { startedAt: 10, finishedAt: 5 }, ["finishedAt"]],
    ["an unknown field", { colour: "red" }, ["(root)"]],
  ];
  it.each(bad)("refuses %s with a 400 naming the field and writes nothing", async (_w, patch, expected) => {
    const before = snapshot();
    const r = await call(postRun, "POST", "/api/v1/runs", { body: { methodId: "baseline", modelId: "m", datasetId: "d", runtime: "cpu", ...patch } });
    expect(r.status).toBe(400);
    expect(fields(r.json)).toEqual(expected);
    expect(snapshot()).toEqual(before);
  });

  it("refuses malformed JSON", async () => {
    const r = await call(postRun, "POST", "/api/v1/runs", { raw: '{"methodId": ' });
    expect(r.status).toBe(400);
    expect(r.json.error).toMatch(/JSON/);
  });
});

describe("GET /api/v1/runs filters", () => {
  const ids = (pred: (s: Seeded) => boolean) =>
    seeded
      .filter(pred)
      .map((s) => s.id)
      .sort((a, b) => a - b);
  const cases: [string, (s: Seeded) => boolean][] = [
    ["family=quantization&family=pruning", (s) => s.family === "quantization" || s.family === "pruning"],
    ["method=tokens.h2o&status=failed", (s) => s.methodId === "tokens.h2o" && s.status === "failed"],
    ["runtime=wasm&hardware=gpu-box", (s) => s.runtime === "wasm" && s.hardwareKey === "gpu-box"],
    ["tag=a&tag=c", (s) => s.tags.includes("a") || s.tags.includes("c")],
    ["metric.accuracy>=0.5", (s) => s.metrics.accuracy >= 0.5],
    ["metric.accuracy%3E%3D0.5", (s) => s.metrics.accuracy >= 0.5],
    ["metric.accuracy>0.5", (s) => s.metrics.accuracy > 0.5],
    ["metric.accuracy<=0.25&metric.perplexity<10", (s) => s.metrics.accuracy <= 0.25 && s.metrics.perplexity < 10],
    ["metric.accuracy=0.5", (s) => s.metrics.accuracy === 0.5],
    ["metric=accuracy:gte:0.5&family=baseline", (s) => s.metrics.accuracy >= 0.5 && s.family === "baseline"],
    ["metric.custom/score<-3", (s) => s.metrics["custom/score"] < -3],
    ["status=succeeded&metric.perplexity>=7.5&runtime=cpu", (s) => s.status === "succeeded" && s.metrics.perplexity >= 7.5 && s.runtime === "cpu"],
  ];
  it.each(cases)("%s", async (query, pred) => {
    const expected = ids(pred);
    expect(expected.length).toBeGreaterThan(0);
    const got = await allPages(`${query}&sort=id`, 50);
    expect(got.ids).toEqual(expected);
    expect(got.total).toBe(expected.length);
  });

  it("leaves synthetic runs out unless includeSynthetic=1", async () => {
    const [row] = getDb()
      .insert(runs)
      .values({ methodId: "baseline", family: "baseline", params: {}, modelId: "m", datasetId: "d", runtime: "cpu", status: "succeeded", synthetic: true })
      .returning({ id: runs.id })
      .all();
    onTestFinished(() => void getDb().$client.prepare("DELETE FROM runs WHERE id = ?").run(row.id));
    const without = await call(listRuns, "GET", "/api/v1/runs?limit=500");
    expect(without.json.total).toBe(seeded.length);
    expect(without.json.runs.map((r: { id: number }) => r.id)).not.toContain(row.id);
    const withSyn = await call(listRuns, "GET", "/api/v1/runs?limit=500&includeSynthetic=1");
    expect(withSyn.json.total).toBe(seeded.length + 1);
    expect(withSyn.json.runs.find((r: { id: number }) => r.id === row.id).synthetic).toBe(true);
  });

  it.each([
    ["famly=x", "famly"],
    ["limit=0", "limit"],
    ["limit=501", "limit"],
    ["status=done", "status"],
    ["metric.accuracy>=high", "metric.accuracy"],
    ["metric.accuracy", "metric.accuracy"],
    ["metric=accuracy:between:1", "metric"],
    ["sort=-colour", "sort"],
    ["cursor=%25%25", "cursor"],
    ["cursor=abc", "cursor"],
    ["experiment=x", "experiment"],
  ])("answers 400 naming the field for %s", async (query, field) => {
    const r = await call(listRuns, "GET", `/api/v1/runs?${query}`);
    expect(r.status).toBe(400);
    expect(fields(r.json)).toContain(field);
  });

  it("refuses a cursor made for another sort", async () => {
    const r = await call(listRuns, "GET", "/api/v1/runs?sort=-id&limit=3");
    const again = await call(listRuns, "GET", `/api/v1/runs?sort=id&limit=3&cursor=${r.json.nextCursor}`);
    expect(again.status).toBe(400);
    expect(again.json.details[0]).toMatchObject({ field: "cursor" });
  });
});

describe("GET /api/v1/runs sort and cursor pagination", () => {
  type Val = string | number | null;
  const value = (s: Seeded, name: string): Val => {
    if (name.startsWith("metric.")) return s.metrics[name.slice(7)] ?? null;
    return ({ id: s.id, startedAt: s.startedAt, hardwareKey: s.hardwareKey, family: s.family, methodId: s.methodId, status: s.status } as Record<string, Val>)[
      name
    ];
  };
  /** The documented order: rows with a value by (value, id) in the sort's direction, then the rest by id. */
  const expectedOrder = (sort: string, pred: (s: Seeded) => boolean) => {
    const desc = sort.startsWith("-");
    const name = desc ? sort.slice(1) : sort;
    const sign = desc ? -1 : 1;
    return seeded
      .filter(pred)
      .sort((a, b) => {
        const va = value(a, name),
          vb = value(b, name);
        if (va === null && vb !== null) return 1;
        if (vb === null && va !== null) return -1;
        if (va !== null && vb !== null && va !== vb) return (va < vb ? -1 : 1) * sign;
        return (a.id - b.id) * sign;
      })
      .map((s) => s.id);
  };
  const sorts = [
    "id",
    "-id",
    "startedAt",
    "-startedAt",
    "hardwareKey",
    "-hardwareKey",
    "family",
    "-methodId",
    "status",
    "metric.accuracy",
    "-metric.accuracy",
    "-metric.perplexity",
    "metric.custom/score",
    "-metric.not_there",
  ];
  it.each(sorts)("visits every row exactly once in order under sort=%s", async (sort) => {
    for (const [query, pred] of [
      ["", () => true],
      ["runtime=cpu", (s: Seeded) => s.runtime === "cpu"],
    ] as const) {
      const expected = expectedOrder(sort, pred);
      for (const limit of [1, 7, 500]) {
        if (limit === 1 && query === "") continue; // one-row pages over everything add time, not coverage
        const got = await allPages(`sort=${encodeURIComponent(sort)}${query ? `&${query}` : ""}`, limit);
        expect(got.ids).toEqual(expected);
        expect(new Set(got.ids).size).toBe(got.ids.length);
        expect(got.total).toBe(expected.length);
        expect(got.pages).toBe(Math.max(1, Math.ceil(expected.length / limit)));
      }
    }
  });

  it.each(sorts.filter((s) => s.includes("metric.")))("gives the same order when %s walks the metric index instead", (sort) => {
    // The route walks run_metrics_key_value only above INDEX_WALK_ABOVE matches; force both plans.
    for (const indexWalkAbove of [0, 1_000_000]) {
      const ids: number[] = [];
      let cursor: string | undefined;
      for (let guard = 0; guard < 100; guard++) {
        const page = listRunsQuery({ ...emptyFilter(), runtime: ["cpu"] }, { sort, cursor, limit: 9 }, undefined, { indexWalkAbove });
        ids.push(...page.runs.map((r) => r.id));
        if (!page.nextCursor) break;
        cursor = page.nextCursor;
      }
      expect(ids).toEqual(expectedOrder(sort, (s) => s.runtime === "cpu"));
    }
  });

  it("returns each run with its metrics object", async () => {
    const r = await call(listRuns, "GET", "/api/v1/runs?sort=id&limit=5");
    for (const run of r.json.runs) expect(run.metrics).toEqual(seeded.find((s) => s.id === run.id)!.metrics);
  });
});

describe("run detail, patch, cancel, retry", () => {
  const queued = () =>
    getDb()
      .insert(runs)
      .values({ methodId: "baseline", family: "baseline", params: {}, modelId: "m", datasetId: "d", runtime: "cpu", status: "queued", attempts: 2 })
      .returning({ id: runs.id })
      .get().id;
  const p = (id: number | string) => ({ params: { id: String(id) } });

  it("GET answers 404 for an unknown id and 400 for a malformed one", async () => {
    expect((await call(getRun, "GET", "/api/v1/runs/99999", p(99999))).status).toBe(404);
    expect((await call(getRun, "GET", "/api/v1/runs/abc", p("abc"))).status).toBe(400);
  });

  it("PATCH changes tags and notes only", async () => {
    const id = seeded[0].id;
    const r = await call(patchRun, "PATCH", `/api/v1/runs/${id}`, { ...p(id), body: { tags: ["keep", "x"], notes: "looks good" } });
    expect(r.status).toBe(200);
    expect(r.json).toMatchObject({ tags: ["keep", "x"], notes: "looks good" });
    seeded[0].tags = ["keep", "x"];
    const bad = await call(patchRun, "PATCH", `/api/v1/runs/${id}`, { ...p(id), body: { status: "succeeded" } });
    expect(bad.status).toBe(400);
    expect(fields(bad.json)).toContain("(root)");
    const dup = await call(patchRun, "PATCH", `/api/v1/runs/${id}`, { ...p(id), body: { tags: ["a", "a"] } });
    expect(dup.status).toBe(400);
    expect(fields(dup.json)).toEqual(["tags"]);
    expect((await call(patchRun, "PATCH", "/api/v1/runs/99999", { ...p(99999), body: { notes: "x" } })).status).toBe(404);
    expect((await call(getRun, "GET", `/api/v1/runs/${id}`, p(id))).json.tags).toEqual(["keep", "x"]);
  });

  it("cancel moves queued to canceled once; retry requeues with attempts reset", async () => {
    const id = queued();
    onTestFinished(() => void getDb().$client.prepare("DELETE FROM runs WHERE id = ?").run(id));
    const c = await call(cancelRun, "POST", `/api/v1/runs/${id}/cancel`, p(id));
    expect(c.status).toBe(200);
    expect(c.json).toEqual({ id, status: "canceled" });
    expect((await call(cancelRun, "POST", `/api/v1/runs/${id}/cancel`, p(id))).status).toBe(409);
    const r = await call(retryRun, "POST", `/api/v1/runs/${id}/retry`, p(id));
    expect(r.status).toBe(200);
    expect(r.json).toEqual({ id, status: "queued" });
    expect((await call(retryRun, "POST", `/api/v1/runs/${id}/retry`, p(id))).status).toBe(409);
    const d = await call(getRun, "GET", `/api/v1/runs/${id}`, p(id));
    expect(d.json).toMatchObject({ status: "queued", attempts: 0, finishedAt: null });
    expect(d.json.statusHistory.map((e: { message: string }) => e.message)).toEqual(["canceled (was queued)", "queued for retry (was canceled)"]);
  });

  it("refuses to cancel a finished run or retry a logged one (409) and 404s unknown runs", async () => {
    const done = seeded.find((s) => s.status === "succeeded")!.id;
    expect((await call(cancelRun, "POST", "/x", p(done))).status).toBe(409);
    const failed = seeded.find((s) => s.status === "failed")!.id;
    const r = await call(retryRun, "POST", "/x", p(failed));
    expect(r.status).toBe(409);
    expect(r.json.error).toMatch(/logged/);
    expect((await call(cancelRun, "POST", "/x", p(99999))).status).toBe(404);
    expect((await call(retryRun, "POST", "/x", p(99999))).status).toBe(404);
  });
});

describe("time-series metrics", () => {
  const p = (id: number) => ({ params: { id: String(id) } });

  it("stores a 10,000-point batch and returns the series by key, ordered by step", async () => {
    const id = seeded[1].id;
    const points = Array.from({ length: 10_000 }, (_, i) => ({ key: i % 2 ? "loss" : "lr", step: 4999 - Math.floor(i / 2), value: i / 7, ts: 1000 + i }));
    const r = await call(postPoints, "POST", `/api/v1/runs/${id}/metrics`, { ...p(id), body: { points } });
    expect(r.status).toBe(201);
    expect(r.json).toEqual({ inserted: 10_000, replayed: false });
    const s = await call(getSeries, "GET", `/api/v1/runs/${id}/metrics?key=loss`, p(id));
    expect(s.status).toBe(200);
    expect(s.json.series).toHaveLength(1);
    expect(s.json.series[0].key).toBe("loss");
    const steps = s.json.series[0].points.map((x: { step: number }) => x.step);
    expect(steps).toEqual(Array.from({ length: 5000 }, (_, i) => i));
    const all = await call(getSeries, "GET", `/api/v1/runs/${id}/metrics`, p(id));
    expect(all.json.series.map((x: { key: string }) => x.key)).toEqual(["loss", "lr"]);
    const d = await call(getRun, "GET", `/api/v1/runs/${id}`, p(id));
    expect(d.json.seriesKeys).toEqual(["loss", "lr"]);
  });

  it("refuses an oversized batch or one bad point and writes nothing", async () => {
    const id = seeded[2].id;
    const before = count("metric_points");
    const big = Array.from({ length: 10_001 }, (_, i) => ({ key: "loss", step: i, value: 1 }));
    let r = await call(postPoints, "POST", "/x", { ...p(id), body: { points: big } });
    expect(r.status).toBe(400);
    expect(fields(r.json)).toEqual(["points"]);
    expect(r.json.details[0].message).toMatch(/10000/);
    const oneBad = Array.from({ length: 100 }, (_, i) => ({ key: "loss", step: i, value: i === 42 ? "NaN" : i }));
    r = await call(postPoints, "POST", "/x", { ...p(id), body: { points: oneBad } });
    expect(r.status).toBe(400);
    expect(fields(r.json)).toEqual(["points.42.value"]);
    r = await call(postPoints, "POST", "/x", { ...p(id), body: { points: [{ key: "loss", step: -1, value: 1 }] } });
    expect(fields(r.json)).toEqual(["points.0.step"]);
    r = await call(postPoints, "POST", "/x", { ...p(99999), body: { points: [{ key: "loss", step: 1, value: 1 }] } });
    expect(r.status).toBe(404);
    expect(count("metric_points")).toBe(before);
    expect((await call(getSeries, "GET", "/x", p(99999))).status).toBe(404);
    expect((await call(getSeries, "GET", "/x?key=bad key", p(id))).status).toBe(400);
  });
});
