import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { getDb } from "@/db/client";
import { GET as listRuns, POST as postRun } from "@/app/api/v1/runs/route";
import { call, cleanup, freshDb, loggedRun, rng } from "./helpers";

/**
 * Metric filters and metric sorts look a run's metric up by the (run_id, key) primary key, never by
 * a range scan of run_metrics_key_value per candidate run (which made the README's example query
 * take seconds on 5,000 runs), and return exactly what a brute-force filter returns.
 */

interface Seeded {
  id: number;
  methodId: string;
  family: string;
  runtime: string;
  metrics: Record<string, number>;
}

const README_QUERY = "family=quantization&metric.perplexity<=12&sort=metric.decode_ms_per_token";
const METHODS = [
  { id: "baseline", family: "baseline", params: {} },
  { id: "quant.rtn", family: "quantization", params: { bits: 4 } },
  { id: "quant.gptq", family: "quantization", params: {} },
  { id: "prune.magnitude", family: "pruning", params: {} },
];

let dir: string;
const seeded: Seeded[] = [];

beforeAll(async () => {
  dir = freshDb();
  const rand = rng(11);
  for (let i = 0; i < 300; i++) {
    const m = METHODS[Math.floor(rand() * METHODS.length)];
    const metrics: Record<string, number> = {};
    if (rand() < 0.85) metrics.perplexity = 4 + Math.round(rand() * 160) / 10;
    if (rand() < 0.8) metrics.decode_ms_per_token = Math.round(rand() * 40) / 2; // coarse: ties
    if (rand() < 0.8) metrics.accuracy = Math.round(rand() * 20) / 20;
    metrics.model_bytes = 1e8 + Math.floor(rand() * 1e8);
    const body = { ...loggedRun(m, rand() < 0.5 ? "cpu" : "wasm"), status: "succeeded", metrics };
    const r = await call(postRun, "POST", "/api/v1/runs", { body });
    expect(r.status).toBe(201);
    seeded.push({ id: r.json.id, methodId: m.id, family: m.family, runtime: body.runtime, metrics });
  }
});
afterAll(() => cleanup(dir));

type Stmt = { sql: string; args: unknown[] };

/** Runs `fn` while recording every statement that reads run_metrics, with its bound arguments. */
async function recordStatements(fn: () => Promise<unknown>): Promise<Stmt[]> {
  const client = getDb().$client;
  const prepare = client.prepare;
  const seen: Stmt[] = [];
  client.prepare = ((source: string) => {
    const st = prepare.call(client, source);
    if (!/run_metrics/.test(source)) return st;
    for (const m of ["all", "get", "iterate"] as const) {
      const orig = (st as any)[m].bind(st);
      (st as any)[m] = (...args: unknown[]) => {
        seen.push({ sql: source, args });
        return orig(...args);
      };
    }
    return st;
  }) as typeof client.prepare;
  try {
    await fn();
  } finally {
    client.prepare = prepare;
  }
  return seen;
}

type PlanRow = { id: number; parent: number; detail: string };

function plan(s: Stmt): PlanRow[] {
  return getDb()
    .$client.prepare(`EXPLAIN QUERY PLAN ${s.sql}`)
    .all(...(s.args as never[])) as PlanRow[];
}

/**
 * Plan lines that use run_metrics_key_value once per row of an outer loop: any use except as the
 * outermost loop of the statement or inside a non-correlated LIST SUBQUERY (built once).
 */
function perRowIndexScans(rows: PlanRow[]): string[] {
  const byId = new Map(rows.map((r) => [r.id, r]));
  const bad: string[] = [];
  rows.forEach((r, i) => {
    if (!r.detail.includes("run_metrics_key_value")) return;
    const parent = byId.get(r.parent);
    if (parent && /^LIST SUBQUERY/.test(parent.detail)) return;
    const firstLoop = rows.find((x) => x.parent === 0 && /^(SCAN|SEARCH)/.test(x.detail));
    if (r.parent === 0 && firstLoop === rows[i]) return;
    bad.push(r.detail);
  });
  return bad;
}

function expected(pred: (s: Seeded) => boolean, key: string, desc: boolean): number[] {
  const withV = seeded.filter((s) => pred(s) && key in s.metrics);
  const without = seeded.filter((s) => pred(s) && !(key in s.metrics));
  const sgn = desc ? -1 : 1;
  withV.sort((a, b) => sgn * (a.metrics[key] - b.metrics[key] || a.id - b.id));
  without.sort((a, b) => sgn * (a.id - b.id));
  return [...withV, ...without].map((s) => s.id);
}

async function allPages(query: string, limit = 9): Promise<{ ids: number[]; total: number }> {
  const ids: number[] = [];
  let cursor: string | null = null;
  let total = -1;
  for (let i = 0; i < 200; i++) {
    const r = await call(listRuns, "GET", `/api/v1/runs?${query}&limit=${limit}${cursor ? `&cursor=${cursor}` : ""}`);
    expect(r.status).toBe(200);
    total = r.json.total;
    ids.push(...r.json.runs.map((x: { id: number }) => x.id));
    cursor = r.json.nextCursor;
    if (!cursor) break;
  }
  return { ids, total };
}

const ppl12 = (s: Seeded) => s.family === "quantization" && s.metrics.perplexity !== undefined && s.metrics.perplexity <= 12;

describe("metric filters and sorts use the (run_id, key) primary key", () => {
  for (const stats of ["without", "with"] as const) {
    it(`README example query: plan ${stats} ANALYZE statistics has no per-run scan of run_metrics_key_value`, async () => {
      if (stats === "with") getDb().$client.exec("ANALYZE");
      for (const sort of ["metric.decode_ms_per_token", "-metric.decode_ms_per_token"]) {
        const q = README_QUERY.replace("sort=metric.decode_ms_per_token", `sort=${sort}`);
        const stmts = await recordStatements(() => call(listRuns, "GET", `/api/v1/runs?${q}&limit=5`));
        expect(stmts.length).toBeGreaterThan(0);
        const plans = stmts.map(plan);
        plans.forEach((p, i) => expect(perRowIndexScans(p), stmts[i].sql).toEqual([]));
        const text = plans.flat().map((r) => r.detail);
        // the filter and the sort value of each candidate run: primary-key lookups
        expect(text).toContain("SEARCH x USING PRIMARY KEY (run_id=? AND key=?)");
        expect(text).toContain("SEARCH m USING PRIMARY KEY (run_id=? AND key=?)");
        // the page query itself never touches run_metrics_key_value
        const page = stmts.findIndex((s) => /ORDER BY m\.value/.test(s.sql));
        expect(page).toBeGreaterThanOrEqual(0);
        expect(plans[page].some((r) => r.detail.includes("run_metrics_key_value"))).toBe(false);
      }
    });
  }

  it("README example query: every page equals a brute-force filter and sort, both directions", async () => {
    for (const desc of [false, true]) {
      const q = desc ? README_QUERY.replace("sort=", "sort=-") : README_QUERY;
      const want = expected(ppl12, "decode_ms_per_token", desc);
      expect(want.length).toBeGreaterThan(20);
      const got = await allPages(q);
      expect(got.total).toBe(want.length);
      expect(got.ids).toEqual(want);
    }
  });

  it("several metric filters with method and runtime, metric sort with keyset cursor, including the index walk", async () => {
    const pred = (s: Seeded) =>
      (s.methodId === "quant.rtn" || s.methodId === "prune.magnitude") &&
      s.runtime === "cpu" &&
      s.metrics.perplexity !== undefined &&
      s.metrics.perplexity > 6 &&
      s.metrics.accuracy !== undefined &&
      s.metrics.accuracy >= 0.3 &&
      s.metrics.model_bytes < 1.8e8;
    const q = "method=quant.rtn&method=prune.magnitude&runtime=cpu&metric.perplexity>6&metric.accuracy>=0.3&metric.model_bytes<180000000";
    for (const desc of [false, true]) {
      const want = expected(pred, "decode_ms_per_token", desc);
      expect(want.length).toBeGreaterThan(5);
      const got = await allPages(`${q}&sort=${desc ? "-" : ""}metric.decode_ms_per_token`, 4);
      expect(got).toEqual({ ids: want, total: want.length });
    }
    // a sort key that is also filtered on, over every run (index walk order)
    const all = (s: Seeded) => s.metrics.accuracy !== undefined && s.metrics.accuracy > 0.5;
    const got = await allPages("metric.accuracy>0.5&sort=-metric.accuracy", 25);
    expect(got.ids).toEqual(expected(all, "accuracy", true));
  });
});
