import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createApiToken } from "@/db/queries/auth";
import { createShareLink } from "@/db/queries/share";
import type { ViewState } from "@/lib/schemas/share";
import { type ApiServer, startApiServer } from "../helpers/api-server";
import { writeModelDir } from "./helpers";

/**
 * With FRONTIER_AUTH=token and FRONTIER_READ=token, a share link's token (X-Frontier-Share) reads
 * its one view and nothing else: lists only under the view's filter (narrowed, never widened), runs
 * by id only those the view shows, its own experiment only, and the registries its pages label with.
 */
let api: ApiServer;
let dir: string;
let token: string;
const ids: Record<string, number> = {};
let expE: number;
let expF: number;
let expRuns: { e: number[]; f: number[] };

const bearer = () => ({ authorization: `Bearer ${token}` });

async function req(method: string, p: string, headers: Record<string, string> = {}, body?: unknown): Promise<{ status: number; json: any }> {
  const h: Record<string, string> = { ...headers };
  if (body !== undefined) h["content-type"] = "application/json";
  const res = await fetch(api.url + p, { method, headers: h, body: body === undefined ? undefined : JSON.stringify(body) });
  const text = await res.text();
  let json: any = null;
  try {
    json = JSON.parse(text);
  } catch {}
  return { status: res.status, json };
}

async function share(view: ViewState): Promise<string> {
  const r = await req("POST", "/api/v1/share", bearer(), { view });
  expect(r.status).toBe(201);
  return r.json.token;
}

/** A read with the link's token only, as the shared page makes it. */
const read = (link: string, p: string) => req("GET", p, { "x-frontier-share": link });

const hw = { label: "box-1" };
const run = (methodId: string, modelId: string, params: { bits?: number }, perplexity: number) => ({
  methodId,
  params,
  modelId,
  datasetId: "d",
  runtime: "cpu",
  hardware: hw,
  metrics: { perplexity, decode_ms_per_token: params.bits ? params.bits / 2 : 5, model_bytes: params.bits ? params.bits * 100_000 : 3_200_000 },
});

beforeAll(async () => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), "frontier-share-scope-"));
  api = await startApiServer({ dir, env: { FRONTIER_AUTH: "token", FRONTIER_READ: "token", FRONTIER_MODEL_ROOTS: dir } });
  token = createApiToken("author", api.db).token;
  for (const [name, body] of [
    ["aBase", run("baseline", "A", {}, 10)],
    ["a4", run("quant.rtn", "A", { bits: 4 }, 10.6)],
    ["a8", run("quant.rtn", "A", { bits: 8 }, 10.1)],
    ["b4", run("quant.rtn", "B", { bits: 4 }, 20.6)],
  ] as const) {
    const r = await req("POST", "/api/v1/runs", bearer(), body);
    expect(r.status, name).toBe(201);
    ids[name] = r.json.id;
  }
  expect((await req("GET", `/api/v1/runs/${ids.a4}`, bearer())).json.baselineRunId).toBe(ids.aBase);
  expect((await req("POST", "/api/v1/models", bearer(), { id: "m", path: writeModelDir(dir, "m") })).status).toBe(201);
  fs.writeFileSync(path.join(dir, "d.jsonl"), `${JSON.stringify({ text: "abc" })}\n`);
  expect((await req("POST", "/api/v1/datasets", bearer(), { id: "d", task: "perplexity", path: path.join(dir, "d.jsonl") })).status).toBe(201);
  const exp = async (name: string) => {
    const r = await req("POST", "/api/v1/experiments", bearer(), {
      name,
      modelId: "m",
      datasetId: "d",
      runtime: "cpu",
      methodId: "quant.rtn",
      grid: { bits: [4, 8] },
    });
    expect(r.status, JSON.stringify(r.json)).toBe(201);
    return r.json as { id: number; runIds: number[] };
  };
  const e = await exp("E");
  const f = await exp("F");
  expE = e.id;
  expF = f.id;
  expRuns = { e: e.runIds, f: f.runIds };
});
afterAll(async () => {
  await api?.close();
  fs.rmSync(dir, { recursive: true, force: true });
});

describe("an explorer share of model A", () => {
  let link: string;
  beforeAll(async () => {
    link = await share({ page: "explorer", query: { model: "A", y: "perplexity", xl: "decode_ms_per_token", group: "method" } });
  });

  it("reads fronts, contexts and runs under model=A, narrowed as the visitor likes, and no list without model=A", async () => {
    const pareto = await read(link, "/api/v1/pareto?model=A&x=decode_ms_per_token,model_bytes&y=perplexity&group=method&scope=latest&maxDominated=2000");
    expect(pareto.status, JSON.stringify(pareto.json)).toBe(200);
    expect((await read(link, "/api/v1/pareto?model=A&method=quant.rtn&param.bits=4&x=decode_ms_per_token&y=perplexity")).status).toBe(200);
    expect((await read(link, "/api/v1/contexts?model=A")).status).toBe(200);
    const runs = await read(link, "/api/v1/runs?model=A&limit=100");
    expect(runs.status).toBe(200);
    expect(runs.json.runs.map((r: { id: number }) => r.id).sort()).toEqual([ids.aBase, ids.a4, ids.a8].sort());
    expect((await read(link, "/api/v1/runs?model=A&method=baseline&status=succeeded&limit=200")).status).toBe(200);
    expect((await read(link, `/api/v1/runs/${ids.a4}`)).status).toBe(200);
    expect((await read(link, `/api/v1/runs/${ids.a4}/metrics`)).status).toBe(200);
    for (const registry of ["/api/v1/models", "/api/v1/datasets", "/api/v1/methods"]) expect((await read(link, registry)).status, registry).toBe(200);
    // ...but nothing wider: a list that drops or widens the model filter is a 401 that says why
    for (const p of [
      "/api/v1/runs",
      "/api/v1/runs?limit=100",
      "/api/v1/runs?model=B",
      "/api/v1/runs?model=A&model=B",
      "/api/v1/runs?model=A&includeSynthetic=1",
      "/api/v1/pareto?x=decode_ms_per_token&y=perplexity",
      "/api/v1/pareto?model=B&x=decode_ms_per_token&y=perplexity",
      "/api/v1/contexts",
    ]) {
      const r = await read(link, p);
      expect(r.status, p).toBe(401);
      expect(r.json.error, p).toMatch(/outside the shared view/);
    }
    expect((await read(link, "/api/v1/runs")).json.error).toMatch(/model=A; this request drops that filter/);
    expect((await read(link, "/api/v1/runs?model=B")).json.error).toMatch(/asks for model=B/);
    // a malformed filter gets the endpoint's own 400, never a grant
    const bad = await read(link, "/api/v1/runs?model=A&metric.perplexity<=abc");
    expect(bad.status).toBe(400);
    expect(bad.json.details[0].field).toBe("metric.perplexity");
  });

  it("refuses (401) a run of model B, its series, any experiment, and what no shared page reads", async () => {
    expect((await read(link, `/api/v1/runs/${ids.b4}`)).status).toBe(401);
    expect((await read(link, `/api/v1/runs/${ids.b4}/metrics`)).status).toBe(401);
    expect((await read(link, `/api/v1/runs/${expRuns.e[0]}`)).status).toBe(401);
    expect((await read(link, `/api/v1/experiments/${expE}`)).status).toBe(401);
    for (const p of ["/api/v1/experiments", "/api/v1/workers", "/api/v1/export?model=A"]) expect((await read(link, p)).status, p).toBe(401);
    // an API token still reads all of it
    expect((await req("GET", `/api/v1/runs/${ids.b4}`, bearer())).status).toBe(200);
    expect((await req("GET", `/api/v1/experiments/${expE}`, bearer())).status).toBe(200);
  });
});

describe("a runs-table share filtered by a metric range and a parameter", () => {
  it("reads only with both conditions unchanged", async () => {
    // The URL `?metric.perplexity<=11&param.bits=4` as the dashboard stores it (URLSearchParams splits at the first "=").
    const link = await share({ page: "runs", query: { "metric.perplexity<": "11", "param.bits": "4", sort: "-id" } });
    const ok = await read(link, "/api/v1/runs?metric.perplexity%3C=11&param.bits=4&limit=50&sort=-id");
    expect(ok.status, JSON.stringify(ok.json)).toBe(200);
    expect(ok.json.runs.map((r: { id: number }) => r.id)).toEqual([ids.a4]);
    expect((await read(link, `/api/v1/runs/${ids.a4}`)).status).toBe(200);
    for (const p of [
      "/api/v1/runs?param.bits=4",
      "/api/v1/runs?metric.perplexity%3C=11",
      "/api/v1/runs?metric.perplexity%3C=30&param.bits=4",
      "/api/v1/runs?metric.perplexity%3C=11&param.bits=8",
    ]) {
      expect((await read(link, p)).status, p).toBe(401);
    }
    // a8 has bits 8, b4 a perplexity above 11: neither is in the view
    expect((await read(link, `/api/v1/runs/${ids.a8}`)).status).toBe(401);
    expect((await read(link, `/api/v1/runs/${ids.b4}`)).status).toBe(401);
  });
});

describe("a compare share", () => {
  it("reads its runs and the baselines they are compared with, by id only", async () => {
    const link = await share({ page: "compare", query: { ids: `${ids.a4},${ids.b4}` } });
    expect((await read(link, `/api/v1/runs/${ids.a4}`)).status).toBe(200);
    expect((await read(link, `/api/v1/runs/${ids.b4}`)).status).toBe(200);
    expect((await read(link, `/api/v1/runs/${ids.b4}/metrics`)).status).toBe(200);
    // a4's baseline: the compare page shows deltas against it
    expect((await read(link, `/api/v1/runs/${ids.aBase}`)).status).toBe(200);
    expect((await read(link, `/api/v1/runs/${ids.a8}`)).status).toBe(401);
    expect((await read(link, `/api/v1/runs/${expRuns.e[0]}`)).status).toBe(401);
    const list = await read(link, `/api/v1/runs?model=A`);
    expect(list.status).toBe(401);
    expect(list.json.error).toMatch(/comparison reads its runs by id/);
    expect((await read(link, "/api/v1/pareto?x=decode_ms_per_token&y=perplexity")).status).toBe(401);
  });
});

describe("an experiment share", () => {
  it("reads its experiment, its runs and its fronts, nothing of another experiment or of logged runs", async () => {
    const link = await share({ page: "experiment", id: String(expE), query: {} });
    const e = await read(link, `/api/v1/experiments/${expE}`);
    expect(e.status).toBe(200);
    expect(e.json.runs.map((r: { id: number }) => r.id).sort()).toEqual([...expRuns.e].sort());
    for (const id of expRuns.e) expect((await read(link, `/api/v1/runs/${id}`)).status).toBe(200);
    const fronts = await read(link, `/api/v1/pareto?experiment=${expE}&status=succeeded&group=method&y=perplexity&x=decode_ms_per_token,model_bytes`);
    expect(fronts.status, JSON.stringify(fronts.json)).toBe(200);
    expect((await read(link, `/api/v1/experiments/${expF}`)).status).toBe(401);
    for (const id of [...expRuns.f, ids.a4]) expect((await read(link, `/api/v1/runs/${id}`)).status, String(id)).toBe(401);
    for (const p of [
      `/api/v1/runs?experiment=${expF}`,
      `/api/v1/runs?experiment=${expE}&experiment=${expF}`,
      "/api/v1/runs",
      "/api/v1/pareto?x=model_bytes&y=perplexity",
    ]) {
      expect((await read(link, p)).status, p).toBe(401);
    }
  });
});

describe("a link that no longer lives", () => {
  it("grants nothing once revoked or expired, registries included, and says which", async () => {
    const revoked = await share({ page: "runs", query: {} });
    expect((await read(revoked, "/api/v1/runs")).status).toBe(200);
    expect((await req("DELETE", `/api/v1/share/${revoked}`, bearer())).status).toBe(200);
    const expired = createShareLink({ view: { page: "runs", query: {} }, expiresInDays: 1 }, api.db, Date.now() - 2 * 86_400_000).token;
    for (const [link, state] of [
      [revoked, "revoked"],
      [expired, "expired"],
      ["x".repeat(32), "no share link has this token"],
    ]) {
      for (const p of ["/api/v1/runs", `/api/v1/runs/${ids.a4}`, "/api/v1/models"]) {
        const r = await read(link, p);
        expect(r.status, `${state} ${p}`).toBe(401);
        expect(r.json.error).toContain(state);
      }
    }
  });
});
