import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { GET as listRuns, POST as postRun } from "@/app/api/v1/runs/route";
import { GET as getPareto } from "@/app/api/v1/pareto/route";
import { listRunGroups } from "@/db/queries/run-groups";
import { emptyFilter } from "@/lib/schemas/filters";
import { call, cleanup, freshDb } from "./helpers";

let dir: string;
const ids: Record<string, number[]> = {};

/** Logs one run through the API; `set` names the seed set the test expects it in. */
async function log(set: string, body: Record<string, unknown>) {
  const r = await call(postRun, "POST", "/api/v1/runs", {
    body: { modelId: "m", datasetId: "d", runtime: "cpu", hardware: { label: "box" }, ...body },
  });
  expect(r.status).toBe(201);
  (ids[set] ??= []).push(r.json.id);
}

beforeAll(async () => {
  dir = freshDb();
  // bits 4 over three seeds, params in two key orders (still one set)
  await log("q4", { methodId: "quant.rtn", params: { bits: 4, group_size: 32 }, seed: 1, metrics: { perplexity: 11, decode_ms_per_token: 2 }, tags: ["a"] });
  await log("q4", { methodId: "quant.rtn", params: { group_size: 32, bits: 4 }, seed: 2, metrics: { perplexity: 12, decode_ms_per_token: 3 } });
  await log("q4", { methodId: "quant.rtn", params: { bits: 4, group_size: 32 }, seed: 3, metrics: { perplexity: 13, decode_ms_per_token: 4 }, tags: ["b"] });
  // bits 8 over two seeds; one of them failed without metrics
  await log("q8", { methodId: "quant.rtn", params: { bits: 8, group_size: 32 }, seed: 1, metrics: { perplexity: 10 } });
  await log("q8", { methodId: "quant.rtn", params: { bits: 8, group_size: 32 }, seed: 2, status: "failed", error: "oom" });
  // the same params on another model and on other hardware: other sets
  await log("q4-other-model", { methodId: "quant.rtn", params: { bits: 4, group_size: 32 }, seed: 1, modelId: "m2", metrics: { perplexity: 30 } });
  await log("q4-other-hw", { methodId: "quant.rtn", params: { bits: 4, group_size: 32 }, seed: 1, hardware: { label: "other" }, metrics: { perplexity: 20 } });
  // a baseline alone
  await log("base", { methodId: "baseline", params: {}, seed: 1, metrics: { perplexity: 9, decode_ms_per_token: 5 } });
});
afterAll(() => cleanup(dir));

const get = (qs: string) => call(listRuns, "GET", `/api/v1/runs?${qs}`);

describe("GET /api/v1/runs?aggregate=seeds", () => {
  it("answers one group per set of runs differing only by seed, with mean ± sd and n per metric", async () => {
    const r = await get("aggregate=seeds&sort=id");
    expect(r.status).toBe(200);
    expect(r.json).toMatchObject({ aggregate: "seeds", total: 5, runs: 8, nextCursor: null });
    const byFirst = new Map(r.json.groups.map((g: { id: number }) => [g.id, g]));
    const q4 = byFirst.get(ids.q4[0]) as any;
    expect(q4).toMatchObject({
      n: 3,
      runIds: ids.q4,
      seeds: [1, 2, 3],
      methodId: "quant.rtn",
      modelId: "m",
      hardwareKey: "box",
      statusCounts: { succeeded: 3 },
    });
    expect(q4.tags).toEqual(["a", "b"]);
    expect(q4.metrics.perplexity).toEqual({ mean: 12, sd: 1, n: 3 });
    expect(q4.metrics.decode_ms_per_token).toEqual({ mean: 3, sd: 1, n: 3 });
    const q8 = byFirst.get(ids.q8[0]) as any;
    expect(q8).toMatchObject({ n: 2, statusCounts: { succeeded: 1, failed: 1 } });
    expect(q8.metrics.perplexity).toEqual({ mean: 10, sd: 0, n: 1 });
    for (const one of ["q4-other-model", "q4-other-hw", "base"]) expect((byFirst.get(ids[one][0]) as any).n).toBe(1);
    // the plain list is unchanged
    const plain = await get("sort=id");
    expect(plain.json.total).toBe(8);
    expect(plain.json.runs).toHaveLength(8);
  });

  it("groups exactly as the Pareto chart's mean over seeds does", async () => {
    const p = await call(getPareto, "GET", "/api/v1/pareto?x=decode_ms_per_token&y=perplexity&group=method&aggregate=seeds&model=m&hardware=box");
    expect(p.status).toBe(200);
    const pts = [...p.json.groups.flatMap((g: any) => g.front), ...p.json.dominated];
    const q4 = pts.find((x: any) => x.n === 3);
    const r = await get("aggregate=seeds&model=m&hardware=box&metric.decode_ms_per_token>0");
    const g = r.json.groups.find((x: any) => x.n === 3);
    expect(g.runIds).toEqual([...q4.runIds].sort((a: number, b: number) => a - b));
    expect(g.metrics.perplexity.mean).toBeCloseTo(q4.y, 12);
  });

  it("sorts groups by a metric's mean, groups without it last, and pages with a cursor", async () => {
    const asc = await get("aggregate=seeds&sort=metric.perplexity");
    expect(asc.json.groups.map((g: any) => g.metrics.perplexity?.mean)).toEqual([9, 10, 12, 20, 30]);
    const desc = await get("aggregate=seeds&sort=-metric.decode_ms_per_token");
    expect(desc.json.groups.map((g: any) => g.id)).toEqual([
      ids.base[0],
      ids.q4[0],
      ...[ids.q8[0], ids["q4-other-model"][0], ids["q4-other-hw"][0]].sort((a, b) => b - a),
    ]);
    // two at a time: every group once, in the same order
    const seen: number[] = [];
    let cursor: string | null = null;
    do {
      const page: any = await get(`aggregate=seeds&sort=metric.perplexity&limit=2${cursor ? `&cursor=${cursor}` : ""}`);
      expect(page.status).toBe(200);
      expect(page.json.groups.length).toBeLessThanOrEqual(2);
      seen.push(...page.json.groups.map((g: any) => g.id));
      cursor = page.json.nextCursor;
    } while (cursor);
    expect(seen).toEqual(asc.json.groups.map((g: any) => g.id));
  });

  it("orders the same whether the sort metric is read per run or as a whole column", () => {
    for (const sort of ["metric.perplexity", "-metric.decode_ms_per_token"]) {
      const perRun = listRunGroups(emptyFilter(), { sort, limit: 50 });
      const column = listRunGroups(emptyFilter(), { sort, limit: 50 }, undefined, { columnReadAbove: 0 });
      expect(column).toEqual(perRun);
    }
  });

  it("applies the run filter before grouping", async () => {
    const r = await get("aggregate=seeds&status=succeeded&tag=a");
    expect(r.json).toMatchObject({ total: 1, runs: 1 });
    expect(r.json.groups[0]).toMatchObject({ n: 1, runIds: [ids.q4[0]] });
    const s = await get("aggregate=seeds&status=succeeded&method=quant.rtn&sort=id");
    expect(s.json.groups.find((g: any) => g.id === ids.q8[0]).n).toBe(1);
  });

  it("rejects a bad aggregate value, a plain list's cursor and an unknown sort with a 400 naming the field", async () => {
    const bad = await get("aggregate=median");
    expect(bad.status).toBe(400);
    expect(bad.json.details[0]).toMatchObject({ field: "aggregate" });
    const plain = await get("limit=1");
    const mixed = await get(`aggregate=seeds&cursor=${plain.json.nextCursor}`);
    expect(mixed.status).toBe(400);
    expect(mixed.json.details[0]).toMatchObject({ field: "cursor" });
    const sort = await get("aggregate=seeds&sort=nope");
    expect(sort.status).toBe(400);
    expect(sort.json.details[0].field).toBe("sort");
  });
});
