import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { getDb } from "@/db/client";
import { runMetrics, runs } from "@/db/schema";
import { expandChart, ParetoChartsResponse } from "@/lib/schemas/pareto";
import { dominates, evenSample, hypervolume, paretoSplit, worstPoint, type Direction, type XY } from "@/lib/pareto";
import { GET as getPareto } from "@/app/api/v1/pareto/route";
import { call, cleanup, fields, familyRun, freshDb, rng } from "./helpers";

interface Pt extends XY {
  id: number;
}

const bruteFront = (pts: Pt[], dx: Direction, dy: Direction) =>
  pts
    .filter((p) => !pts.some((q) => q !== p && dominates(q, p, dx, dy)))
    .map((p) => p.id)
    .sort((a, b) => a - b);

/** Exact area of the union of [p, ref] boxes by coordinate compression: O(n^3), for checking only. */
function bruteHypervolume(pts: XY[], ref: XY, dx: Direction, dy: Direction): number {
  const m = (v: number, d: Direction) => (d === "lower" ? v : -v);
  const rx = m(ref.x, dx),
    ry = m(ref.y, dy);
  const boxes = pts.map((p) => ({ a: m(p.x, dx), b: m(p.y, dy) })).filter((p) => p.a < rx && p.b < ry);
  const xs = [...new Set([...boxes.map((p) => p.a), rx])].sort((a, b) => a - b);
  const ys = [...new Set([...boxes.map((p) => p.b), ry])].sort((a, b) => a - b);
  let area = 0;
  for (let i = 0; i + 1 < xs.length; i++) {
    for (let j = 0; j + 1 < ys.length; j++) {
      if (boxes.some((p) => p.a <= xs[i] && p.b <= ys[j])) area += (xs[i + 1] - xs[i]) * (ys[j + 1] - ys[j]);
    }
  }
  return area;
}

const randomPoints = (seed: number, n: number, coarse: boolean): Pt[] => {
  const r = rng(seed);
  return Array.from({ length: n }, (_, id) => ({
    id,
    x: coarse ? Math.floor(r() * 8) : r() * 100 - 50,
    y: coarse ? Math.floor(r() * 8) : r() * 10,
  }));
};

const DIRS: [Direction, Direction][] = [
  ["lower", "higher"],
  ["higher", "higher"],
  ["lower", "lower"],
  ["higher", "lower"],
];

describe("lib/pareto", () => {
  it.each([1, 2, 3, 4, 5, 6])("front matches the O(n^2) definition (seed %i, ties, every direction)", (seed) => {
    for (const coarse of [false, true]) {
      const pts = randomPoints(seed, coarse ? 120 : 400, coarse);
      pts.push({ ...pts[0], id: 10_000 }, { ...pts[1], id: 10_001 }); // exact duplicates
      for (const [dx, dy] of DIRS) {
        const { front, dominated } = paretoSplit(pts, dx, dy);
        expect(front.map((p) => p.id).sort((a, b) => a - b)).toEqual(bruteFront(pts, dx, dy));
        expect(front.length + dominated.length).toBe(pts.length);
        // ordered from best x to worst x
        const sx = front.map((p) => (dx === "lower" ? p.x : -p.x));
        expect(sx).toEqual([...sx].sort((a, b) => a - b));
      }
    }
  });

  it("keeps duplicates of a front point on the front and handles one point and none", () => {
    const pts = [
      { id: 1, x: 1, y: 1 },
      { id: 2, x: 1, y: 1 },
      { id: 3, x: 2, y: 0 },
    ];
    expect(paretoSplit(pts, "lower", "higher").front.map((p) => p.id)).toEqual([1, 2]);
    expect(paretoSplit([pts[0]], "lower", "lower").front).toHaveLength(1);
    expect(paretoSplit([], "lower", "lower")).toEqual({ front: [], dominated: [] });
  });

  it.each([11, 12, 13, 14])("hypervolume matches the brute-force union area (seed %i)", (seed) => {
    for (const coarse of [false, true]) {
      const pts = randomPoints(seed, 60, coarse);
      for (const [dx, dy] of DIRS) {
        const worst = worstPoint(pts, dx, dy)!;
        const front = paretoSplit(pts, dx, dy).front;
        const hv = hypervolume(front, worst, dx, dy);
        expect(hv).toBeCloseTo(bruteHypervolume(pts, worst, dx, dy), 6);
        expect(hypervolume(pts, worst, dx, dy)).toBeCloseTo(hv, 6); // dominated points add nothing
        // a reference inside the cloud clips points beyond it
        const mid = { x: pts[3].x, y: pts[5].y };
        expect(hypervolume(front, mid, dx, dy)).toBeCloseTo(bruteHypervolume(pts, mid, dx, dy), 6);
      }
    }
  });

  it("hypervolume of one point is its box to the reference", () => {
    expect(hypervolume([{ x: 1, y: 0.9 }], { x: 5, y: 0.4 }, "lower", "higher")).toBeCloseTo(4 * 0.5);
    expect(hypervolume([{ x: 6, y: 0.9 }], { x: 5, y: 0.4 }, "lower", "higher")).toBe(0);
  });

  it("samples evenly and deterministically", () => {
    const items = Array.from({ length: 10 }, (_, i) => i);
    expect(evenSample(items, 4)).toEqual([0, 2, 5, 7]);
    expect(evenSample(items, 20)).toEqual(items);
    expect(evenSample(items, 0)).toEqual([]);
  });
});

describe("GET /api/v1/pareto", () => {
  let dir: string;
  const FAMILIES = ["baseline", "quantization", "pruning"];
  const data: { id: number; family: string; runtime: string; lat?: number; acc?: number; mem?: number }[] = [];

  beforeAll(() => {
    dir = freshDb();
    const r = rng(99);
    const db = getDb();
    db.transaction((tx) => {
      for (let i = 0; i < 600; i++) {
        const family = FAMILIES[i % 3];
        const runtime = r() < 0.5 ? "cpu" : "wasm";
        const [{ id }] = tx
          .insert(runs)
          .values(familyRun(family, i, runtime))
          .returning({ id: runs.id })
          .all();
        const row: (typeof data)[number] = { id, family, runtime };
        const m: { runId: number; key: string; value: number }[] = [];
        if (r() < 0.95) m.push({ runId: id, key: "latency_ms_p50", value: (row.lat = Math.round(r() * 500) / 10) });
        if (r() < 0.95) m.push({ runId: id, key: "accuracy", value: (row.acc = Math.round(r() * 200) / 200) });
        if (m.length) tx.insert(runMetrics).values(m).run();
        data.push(row);
      }
      // A second x metric from its own generator, so the single-x fixtures above stay as they were.
      const r2 = rng(7);
      const mem = data.flatMap((row) => (r2() < 0.9 ? [{ runId: row.id, key: "model_bytes", value: (row.mem = Math.round(r2() * 1e6)) }] : []));
      tx.insert(runMetrics).values(mem).run();
    });
  });
  afterAll(() => cleanup(dir));

  /** The context a fixture run is in (model m, dataset d, its runtime, no hardware label until the hardware test). */
  const ctxOf = (d: (typeof data)[number]) => d.runtime;
  /** The latest succeeded baseline of a runtime's context (what the API takes as the reference). */
  const baselineOf = (runtime: string) => [...data].reverse().find((d) => d.family === "baseline" && d.runtime === runtime)!;

  it("returns each group's front, hypervolume against the context baseline's reference, and a dominated sample", async () => {
    const res = await call(getPareto, "GET", "/api/v1/pareto?x=latency_ms_p50&y=accuracy&group=family&maxDominated=50&runtime=cpu");
    expect(res.status).toBe(200);
    const j = res.json;
    const both = data.filter((d) => d.runtime === "cpu" && d.lat !== undefined && d.acc !== undefined);
    expect(j.total).toBe(both.length);
    expect(j.x).toEqual({ key: "latency_ms_p50", direction: "lower" });
    expect(j.y).toEqual({ key: "accuracy", direction: "higher" });
    expect(j.contexts).toEqual([{ modelId: "m", datasetId: "d", runtime: "cpu", hardwareKey: null, baselineRunId: baselineOf("cpu").id }]);
    const b = baselineOf("cpu");
    // the baseline's values worsened by half: x 1.5 on lower-is-better latency, x 0.5 on higher-is-better accuracy
    const ref =
      b.lat !== undefined && b.acc ? { x: b.lat * 1.5, y: b.acc * 0.5 } : { x: Math.max(...both.map((d) => d.lat!)), y: Math.min(...both.map((d) => d.acc!)) };
    expect(j.reference).toEqual(ref);
    expect(j.referenceSource).toBe(b.lat !== undefined && b.acc ? "baseline" : "worst-point");
    expect(j.groups.map((g: { key: string }) => g.key).sort()).toEqual([...FAMILIES].sort());
    let frontTotal = 0;
    for (const g of j.groups) {
      const pts = both.filter((d) => d.family === g.key).map((d) => ({ id: d.id, x: d.lat!, y: d.acc! }));
      expect(g.count).toBe(pts.length);
      expect(g.reference).toEqual(ref);
      expect(g.front.map((p: { runId: number }) => p.runId).sort((a: number, b: number) => a - b)).toEqual(bruteFront(pts, "lower", "higher"));
      expect(g.hypervolume).toBeCloseTo(bruteHypervolume(pts, ref, "lower", "higher"), 6);
      expect(g.front[0]).toMatchObject({ family: g.key, modelId: "m", runtime: "cpu" });
      expect(g.front[0].params).toHaveProperty("i");
      frontTotal += g.front.length;
    }
    expect(j.dominatedTotal).toBe(both.length - frontTotal);
    expect(j.dominated).toHaveLength(50);
    const again = await call(getPareto, "GET", "/api/v1/pareto?x=latency_ms_p50&y=accuracy&group=family&maxDominated=50&runtime=cpu");
    expect(again.json.dominated).toEqual(j.dominated);
  });

  it("never draws one front across contexts: every runtime is its own set of groups, with its own reference", async () => {
    const res = await call(getPareto, "GET", "/api/v1/pareto?x=latency_ms_p50&y=accuracy&group=family");
    expect(res.status).toBe(200);
    expect(res.json.reference).toBeNull();
    expect(res.json.contexts.map((c: { runtime: string }) => c.runtime).sort()).toEqual(["cpu", "wasm"]);
    expect(res.json.groups).toHaveLength(6);
    for (const g of res.json.groups) {
      const ctx = res.json.contexts[g.context];
      const family = g.key.split(" · ")[0];
      expect(g.key).toBe(`${family} · m · d · ${ctx.runtime}`);
      const pts = data
        .filter((d) => ctxOf(d) === ctx.runtime && d.family === family && d.lat !== undefined && d.acc !== undefined)
        .map((d) => ({ id: d.id, x: d.lat!, y: d.acc! }));
      expect(g.count).toBe(pts.length);
      expect(g.front.map((p: { runId: number }) => p.runId).sort((a: number, b: number) => a - b)).toEqual(bruteFront(pts, "lower", "higher"));
      expect(g.front.every((p: { runtime: string }) => p.runtime === ctx.runtime)).toBe(true);
      expect(g.hypervolume).toBeCloseTo(bruteHypervolume(pts, g.reference, "lower", "higher"), 6);
    }
    for (const d of res.json.dominated) expect(res.json.groups.some((g: { key: string }) => g.key === d.group)).toBe(true);
  });

  it("applies filters, grouping by runtime and reference overrides", async () => {
    const res = await call(getPareto, "GET", "/api/v1/pareto?x=latency_ms_p50&y=accuracy&group=runtime&family=pruning&refX=60&refY=-0.5");
    expect(res.status).toBe(200);
    const both = data.filter((d) => d.family === "pruning" && d.lat !== undefined && d.acc !== undefined);
    expect(res.json.total).toBe(both.length);
    expect(res.json.groups.map((g: { key: string }) => g.key).sort()).toEqual(["cpu · m · d · cpu", "wasm · m · d · wasm"]);
    for (const g of res.json.groups) {
      expect(g.reference).toEqual({ x: 60, y: -0.5 });
      expect(g.referenceSource).toBe("query");
      const pts = both.filter((d) => g.key.startsWith(`${d.runtime} `)).map((d) => ({ id: d.id, x: d.lat!, y: d.acc! }));
      expect(g.hypervolume).toBeCloseTo(bruteHypervolume(pts, { x: 60, y: -0.5 }, "lower", "higher"), 6);
    }
  });

  it("keeps a context's reference and hypervolume fixed as dominated runs arrive", async () => {
    const q = "/api/v1/pareto?x=latency_ms_p50&y=accuracy&group=family&runtime=wasm";
    const before = await call(getPareto, "GET", q);
    const [{ id }] = getDb()
      .insert(runs)
      .values(familyRun("quantization", 9999, "wasm"))
      .returning({ id: runs.id })
      .all();
    // worse than every point on both axes, so it cannot join a front
    getDb()
      .insert(runMetrics)
      .values([
        { runId: id, key: "latency_ms_p50", value: 1e6 },
        { runId: id, key: "accuracy", value: -1 },
      ])
      .run();
    const after = await call(getPareto, "GET", q);
    expect(after.json.reference).toEqual(before.json.reference);
    expect(after.json.referenceSource).toBe("baseline");
    expect(after.json.groups.map((g: { hypervolume: number }) => g.hypervolume)).toEqual(before.json.groups.map((g: { hypervolume: number }) => g.hypervolume));
    expect(after.json.total).toBe(before.json.total + 1);
    getDb().$client.prepare("DELETE FROM run_metrics WHERE run_id = ?").run(id);
    getDb().$client.prepare("DELETE FROM runs WHERE id = ?").run(id);
  });

  it('groups by hardware, runs without a hardware label under "unknown", one context per label', async () => {
    getDb().$client.prepare("UPDATE runs SET hardware_key = CASE WHEN id % 2 = 0 THEN 'cpu · box' END").run();
    const res = await call(getPareto, "GET", "/api/v1/pareto?x=latency_ms_p50&y=accuracy&group=hardware");
    expect(res.status).toBe(200);
    expect(res.json.groups.map((g: { key: string }) => g.key).sort()).toEqual([
      "cpu · box · m · d · cpu · box",
      "cpu · box · m · d · wasm · cpu · box",
      "unknown · m · d · cpu",
      "unknown · m · d · wasm",
    ]);
    const both = data.filter((d) => d.lat !== undefined && d.acc !== undefined);
    for (const g of res.json.groups) {
      const ctx = res.json.contexts[g.context];
      const pts = both
        .filter((d) => (d.id % 2 === 0) === (ctx.hardwareKey === "cpu · box") && d.runtime === ctx.runtime)
        .map((d) => ({ id: d.id, x: d.lat!, y: d.acc! }));
      expect(g.count).toBe(pts.length);
      expect(g.front.map((p: { runId: number }) => p.runId).sort((a: number, b: number) => a - b)).toEqual(bruteFront(pts, "lower", "higher"));
    }
  });

  it("answers several x metrics in one call, each chart equal to its single-x answer", async () => {
    const q = "y=accuracy&group=family&maxDominated=40&family=pruning&family=quantization&runtime=cpu&hardware=cpu · box";
    const res = await call(getPareto, "GET", `/api/v1/pareto?x=latency_ms_p50,model_bytes,sparsity&${q}`);
    expect(res.status).toBe(200);
    expect(Object.keys(res.json)).toEqual(["charts"]);
    expect(res.json.charts.map((c: { x: { key: string } }) => c.x.key)).toEqual(["latency_ms_p50", "model_bytes", "sparsity"]);
    for (const [i, x] of ["latency_ms_p50", "model_bytes", "sparsity"].entries()) {
      const single = await call(getPareto, "GET", `/api/v1/pareto?x=${x}&${q}`);
      expect(single.status).toBe(200);
      // the same chart, with the dominated sample as columns (group as an index into groups)
      const { dominated, ...rest } = res.json.charts[i];
      const { dominated: singleDominated, ...singleRest } = single.json;
      expect(rest).toEqual(singleRest);
      expect(dominated.runId).toHaveLength(singleDominated.length);
      expect(expandChart(res.json.charts[i])).toEqual(single.json);
    }
    // the memory chart against the O(n^2) definition
    const mem = res.json.charts[1];
    expect(mem.x).toEqual({ key: "model_bytes", direction: "lower" });
    const both = data.filter((d) => d.family !== "baseline" && d.runtime === "cpu" && d.id % 2 === 0 && d.mem !== undefined && d.acc !== undefined);
    expect(mem.total).toBe(both.length);
    for (const g of mem.groups) {
      const pts = both.filter((d) => d.family === g.key).map((d) => ({ id: d.id, x: d.mem!, y: d.acc! }));
      expect(g.front.map((p: { runId: number }) => p.runId).sort((a: number, b: number) => a - b)).toEqual(bruteFront(pts, "lower", "higher"));
    }
    expect(res.json.charts[2]).toMatchObject({ total: 0, groups: [], dominated: { runId: [], x: [], y: [], group: [] } });
    expect(ParetoChartsResponse.safeParse(res.json).success).toBe(true);
  });

  it("answers an empty result for a metric nobody has", async () => {
    const res = await call(getPareto, "GET", "/api/v1/pareto?x=latency_ms_p50&y=sparsity");
    expect(res.status).toBe(200);
    expect(res.json).toMatchObject({ total: 0, groups: [], dominated: [], reference: null });
  });

  it.each([
    ["y=accuracy", "x"],
    ["x=latency_ms_p50&y=accuracy&group=colour", "group"],
    ["x=latency_ms_p50&y=accuracy&refX=abc", "refX"],
    ["x=bad key&y=accuracy", "x"],
    ["x=latency_ms_p50,&y=accuracy", "x"],
    ["x=a,b,c,d,e&y=accuracy", "x"],
    ["x=latency_ms_p50&y=accuracy&bogus=1", "bogus"],
  ])("400 naming the field for %s", async (q, field) => {
    const res = await call(getPareto, "GET", `/api/v1/pareto?${q}`);
    expect(res.status).toBe(400);
    expect(fields(res.json)).toContain(field);
  });
});

describe("GET /api/v1/contexts and scope=latest", () => {
  let dir: string;
  beforeAll(() => {
    dir = freshDb();
    const db = getDb();
    // model a (older), then model b; a logged run without hardware on model c
    const add = (modelId: string, methodId: string, hardwareKey: string | null, lat: number, ppl: number, at: number) => {
      const [{ id }] = db
        .insert(runs)
        .values({ ...familyRun(methodId === "baseline" ? "baseline" : "quantization", 0), methodId, modelId, hardwareKey, createdAt: at, finishedAt: at })
        .returning({ id: runs.id })
        .all();
      db.insert(runMetrics)
        .values([
          { runId: id, key: "decode_ms_per_token", value: lat },
          { runId: id, key: "perplexity", value: ppl },
        ])
        .run();
      return id;
    };
    add("a", "baseline", "cpu · box", 10, 5, 1000);
    add("a", "quant.x", "cpu · box", 6, 6, 1001);
    add("b", "baseline", "cpu · box", 100, 3, 2000);
    add("b", "quant.x", "cpu · box", 60, 3.5, 2001);
    add("c", "quant.x", null, 1, 1, 500);
  });
  afterAll(() => cleanup(dir));

  it("lists contexts most recent first with counts and baselines", async () => {
    const { GET } = await import("@/app/api/v1/contexts/route");
    const res = await call(GET, "GET", "/api/v1/contexts");
    expect(res.status).toBe(200);
    expect(res.json.contexts.map((c: { modelId: string; runs: number }) => [c.modelId, c.runs])).toEqual([
      ["b", 2],
      ["a", 2],
      ["c", 1],
    ]);
    expect(res.json.contexts[2]).toMatchObject({ hardwareKey: null, baselineRunId: null });
    expect(res.json.contexts[0].baselineRunId).toEqual(expect.any(Number));
  });

  it("y=primary is the primary quality metric of the shown context's dataset", async () => {
    const { datasets } = await import("@/db/schema");
    // d is a recall set: exact match is its metric; no run has it, so the chart is empty but named
    getDb().insert(datasets).values({ id: "d", name: "d", task: "recall", file: "d.jsonl" }).run();
    const res = await call(getPareto, "GET", "/api/v1/pareto?x=decode_ms_per_token&y=primary&scope=latest");
    expect(res.status).toBe(200);
    expect(res.json.y).toEqual({ key: "exact_match", direction: "higher" });
    getDb().$client.prepare("UPDATE datasets SET task = 'perplexity' WHERE id = 'd'").run();
    const ppl = await call(getPareto, "GET", "/api/v1/pareto?x=decode_ms_per_token&y=primary&scope=latest");
    expect(ppl.json.y.key).toBe("perplexity");
    expect(ppl.json.total).toBe(2);
    getDb().$client.prepare("DELETE FROM datasets WHERE id = 'd'").run();
  });

  it("scope=latest answers the most recent context alone, with its baseline's reference", async () => {
    const res = await call(getPareto, "GET", "/api/v1/pareto?x=decode_ms_per_token&y=perplexity&scope=latest");
    expect(res.status).toBe(200);
    expect(res.json.contexts).toHaveLength(1);
    expect(res.json.contexts[0].modelId).toBe("b");
    expect(res.json.total).toBe(2);
    expect(res.json.reference).toEqual({ x: 150, y: 4.5 });
    expect(res.json.referenceSource).toBe("baseline");
    // a pinned context without a hardware label ("(none)"): no baseline, so the worst point
    const c = await call(getPareto, "GET", "/api/v1/pareto?x=decode_ms_per_token&y=perplexity&model=c&dataset=d&runtime=cpu&hardware=(none)");
    expect(c.json.total).toBe(1);
    expect(c.json.contexts[0]).toMatchObject({ modelId: "c", hardwareKey: null });
    expect(c.json.referenceSource).toBe("worst-point");
  });
});

describe("parameter filters and colour by parameter", () => {
  let dir: string;
  beforeAll(() => {
    dir = freshDb();
    const db = getDb();
    const add = (params: Record<string, unknown>, lat: number, ppl: number) => {
      const [{ id }] = db
        .insert(runs)
        .values({ ...familyRun("quantization", 0), methodId: "quant.rtn", params })
        .returning({ id: runs.id })
        .all();
      db.insert(runMetrics)
        .values([
          { runId: id, key: "decode_ms_per_token", value: lat },
          { runId: id, key: "perplexity", value: ppl },
        ])
        .run();
    };
    add({ bits: 4, group_size: 32, format: "qdq", symmetric: true }, 3, 11);
    add({ bits: 4, group_size: 128, format: "matmulnbits", symmetric: false }, 2.5, 12);
    add({ bits: 3, group_size: 64, format: "qdq", symmetric: false }, 2, 15);
    add({ bits: 8 }, 4, 10);
  });
  afterAll(() => cleanup(dir));

  const total = async (q: string) => {
    const res = await call(getPareto, "GET", `/api/v1/pareto?x=decode_ms_per_token&y=perplexity&${q}`);
    expect(res.status, res.text).toBe(200);
    return res.json.total as number;
  };

  it("filters by a parameter's value, range, text and boolean", async () => {
    expect(await total("param.bits=4")).toBe(2);
    expect(await total(`${encodeURIComponent("param.group_size>")}=64`)).toBe(2);
    expect(await total(`${encodeURIComponent("param.group_size<")}=64`)).toBe(2);
    expect(await total("param.format=qdq")).toBe(2);
    expect(await total("param.symmetric=true")).toBe(1);
    expect(await total("param.bits=4&param.format=qdq")).toBe(1);
  });

  it("groups by a parameter's value, runs without it under unknown", async () => {
    const res = await call(getPareto, "GET", "/api/v1/pareto?x=decode_ms_per_token&y=perplexity&group=param.bits");
    expect(res.status).toBe(200);
    expect(res.json.groups.map((g: { key: string }) => g.key).sort()).toEqual(["3", "4", "8"]);
    const g = await call(getPareto, "GET", "/api/v1/pareto?x=decode_ms_per_token&y=perplexity&group=param.group_size");
    expect(g.json.groups.map((x: { key: string; count: number }) => [x.key, x.count]).sort()).toEqual([
      ["128", 1],
      ["32", 1],
      ["64", 1],
      ["unknown", 1],
    ]);
  });

  it.each([
    ["param.bits>=x", "param.bits"],
    ["param.=4", "param."],
    ["param.bits", "param.bits"],
    ["group=param.bad-name", "group"],
  ])("400 naming the field for %s", async (q, field) => {
    const res = await call(getPareto, "GET", `/api/v1/pareto?x=decode_ms_per_token&y=perplexity&${q}`);
    expect(res.status).toBe(400);
    expect(fields(res.json)).toContain(field);
  });
});

describe("parameter filters on GET /api/v1/runs and /export", () => {
  let dir: string;
  beforeAll(() => {
    dir = freshDb();
    for (const params of [{ bits: 4 }, { bits: 8 }, { bits: 4, group_size: 128 }]) {
      getDb()
        .insert(runs)
        .values({ ...familyRun("quantization", 0), methodId: "quant.rtn", params })
        .run();
    }
  });
  afterAll(() => cleanup(dir));

  it("apply the same condition", async () => {
    const { GET: getRuns } = await import("@/app/api/v1/runs/route");
    const { GET: getExport } = await import("@/app/api/v1/export/route");
    const list = await call(getRuns, "GET", "/api/v1/runs?param.bits=4");
    expect(list.status).toBe(200);
    expect(list.json.runs.map((r: { params: { bits: number } }) => r.params.bits)).toEqual([4, 4]);
    const csv = await call(getExport, "GET", `/api/v1/export?format=json&${encodeURIComponent("param.group_size>")}=100`);
    expect(csv.status).toBe(200);
    expect(csv.text).toContain('"group_size":128');
    expect(csv.text).not.toContain('"bits":8');
  });
});

describe("aggregate=seeds", () => {
  let dir: string;
  beforeAll(() => {
    dir = freshDb();
    const db = getDb();
    const add = (params: Record<string, unknown>, seed: number, lat: number, ppl: number) => {
      const [{ id }] = db
        .insert(runs)
        .values({ ...familyRun("quantization", 0), methodId: "quant.rtn", params, seed })
        .returning({ id: runs.id })
        .all();
      db.insert(runMetrics)
        .values([
          { runId: id, key: "decode_ms_per_token", value: lat },
          { runId: id, key: "perplexity", value: ppl },
        ])
        .run();
      return id;
    };
    // bits 4 over three seeds (params in two key orders: still one set), bits 8 over two, bits 3 once
    add({ bits: 4, group_size: 32 }, 1, 2, 11);
    add({ group_size: 32, bits: 4 }, 2, 3, 12);
    add({ bits: 4, group_size: 32 }, 3, 4, 13);
    add({ bits: 8, group_size: 32 }, 1, 5, 10);
    add({ bits: 8, group_size: 32 }, 2, 5, 10.5);
    add({ bits: 3, group_size: 32 }, 1, 1, 20);
  });
  afterAll(() => cleanup(dir));

  it("draws runs that differ only by seed as one point at the means, with ± sd bounds and n", async () => {
    const res = await call(getPareto, "GET", "/api/v1/pareto?x=decode_ms_per_token&y=perplexity&group=method&aggregate=seeds");
    expect(res.status).toBe(200);
    expect(res.json.aggregate).toBe("seeds");
    expect(res.json.total).toBe(3);
    const pts = [...res.json.groups[0].front, ...res.json.dominated];
    const four = pts.find((p: { n: number }) => p.n === 3);
    expect(four).toMatchObject({ x: 3, y: 12, xLo: 2, xHi: 4, yLo: 11, yHi: 13 });
    expect(four.runIds ?? [four.runId]).toContain(four.runId);
    const eight = pts.find((p: { n: number }) => p.n === 2);
    expect(eight.x).toBe(5);
    expect(eight.y).toBeCloseTo(10.25, 10);
    expect(eight.yHi - eight.y).toBeCloseTo(Math.sqrt(0.125), 10);
    const three = pts.find((p: { n: number }) => p.n === 1);
    expect(three).toMatchObject({ x: 1, y: 20 });
    expect(three.xLo).toBeUndefined();
    const plain = await call(getPareto, "GET", "/api/v1/pareto?x=decode_ms_per_token&y=perplexity&group=method");
    expect(plain.json).toMatchObject({ aggregate: "none", total: 6 });
    // several x: columnar answers carry n as a column
    const both = await call(getPareto, "GET", "/api/v1/pareto?x=decode_ms_per_token,perplexity&y=perplexity&aggregate=seeds");
    expect(both.json.charts[0].total).toBe(3);
  });
});
