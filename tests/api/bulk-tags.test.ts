import { afterAll, beforeAll, describe, expect, it, onTestFinished } from "vitest";
import { GET as listRuns, POST as postRun } from "@/app/api/v1/runs/route";
import { POST as bulkTags } from "@/app/api/v1/runs/tags/route";
import { GET as getRun } from "@/app/api/v1/runs/[id]/route";
import { createApiToken } from "@/db/queries/auth";
import { call, callAs, cleanup, fields, freshDb } from "./helpers";

let dir: string;
const ids: number[] = [];

beforeAll(async () => {
  dir = freshDb();
  for (let i = 0; i < 4; i++) {
    const r = await call(postRun, "POST", "/api/v1/runs", {
      body: { methodId: "quant.rtn", params: { bits: 4 }, modelId: "m", datasetId: "d", runtime: "cpu", tags: i === 0 ? ["keep", "old"] : [] },
    });
    expect(r.status).toBe(201);
    ids.push(r.json.id);
  }
});
afterAll(() => cleanup(dir));

const tagsOf = async (id: number) => (await call(getRun, "GET", `/api/v1/runs/${id}`, { params: { id: String(id) } })).json.tags;
const post = (body: unknown) => call(bulkTags, "POST", "/api/v1/runs/tags", { body });

describe("POST /api/v1/runs/tags", () => {
  it("adds and removes tags on many runs at once; the tag filter then finds them", async () => {
    const r = await post({ ids: [ids[0], ids[1], ids[2]], add: ["sweep-b", "keep"], remove: ["old"] });
    expect(r.status).toBe(200);
    expect(r.json).toEqual({ updated: 3, ids: [ids[0], ids[1], ids[2]] });
    expect(await tagsOf(ids[0])).toEqual(["keep", "sweep-b"]);
    expect(await tagsOf(ids[1])).toEqual(["sweep-b", "keep"]);
    expect(await tagsOf(ids[3])).toEqual([]);
    const listed = await call(listRuns, "GET", "/api/v1/runs?tag=sweep-b&sort=id");
    expect(listed.json.runs.map((x: { id: number }) => x.id)).toEqual([ids[0], ids[1], ids[2]]);
    // nothing to change: a run already tagged is not rewritten
    const again = await post({ ids: [ids[0]], add: ["keep"] });
    expect(again.json).toEqual({ updated: 0, ids: [] });
    const removed = await post({ ids: [ids[1], ids[2]], remove: ["sweep-b", "keep"] });
    expect(removed.json.updated).toBe(2);
    expect(await tagsOf(ids[2])).toEqual([]);
  });

  it("answers 404 naming unknown ids and writes nothing", async () => {
    const before = await tagsOf(ids[3]);
    const r = await post({ ids: [ids[3], 999_998, 999_999], add: ["x"] });
    expect(r.status).toBe(404);
    expect(r.json.error).toBe("runs 999998, 999999 not found");
    expect(await tagsOf(ids[3])).toEqual(before);
  });

  it("rejects bad bodies with a 400 naming the field", async () => {
    const cases: [unknown, string][] = [
      [{ ids: [], add: ["x"] }, "ids"],
      [{ ids: Array.from({ length: 1001 }, (_, i) => i + 1), add: ["x"] }, "ids"],
      [{ ids: [ids[0], ids[0]], add: ["x"] }, "ids"],
      [{ ids: [ids[0]] }, "add"],
      [{ ids: [ids[0]], add: [""] }, "add.0"],
      [{ ids: [ids[0]], add: ["x".repeat(65)] }, "add.0"],
      [{ ids: [ids[0]], add: ["x"], remove: ["x"] }, "remove"],
      [{ ids: [1.5], add: ["x"] }, "ids.0"],
      [{ ids: [ids[0]], add: ["x"], extra: 1 }, "(root)"],
    ];
    for (const [body, field] of cases) {
      const r = await post(body);
      expect(r.status, JSON.stringify(body).slice(0, 80)).toBe(400);
      expect(fields(r.json), JSON.stringify(body).slice(0, 80)).toContain(field);
    }
  });

  it("refuses to pass 50 tags on a run, before writing anything", async () => {
    const many = Array.from({ length: 50 }, (_, i) => `t${i}`);
    const r = await post({ ids: [ids[3], ids[0]], add: many });
    expect(r.status).toBe(400);
    expect(r.json.details[0].message).toContain(`runs ${ids[0]} would carry more than 50 tags`);
    expect(await tagsOf(ids[3])).toEqual([]);
  });

  it("in token mode needs a live API token", async () => {
    const { token } = createApiToken("tags-test");
    process.env.FRONTIER_AUTH = "token";
    onTestFinished(() => {
      delete process.env.FRONTIER_AUTH;
    });
    const anon = await post({ ids: [ids[3]], add: ["locked"] });
    expect(anon.status).toBe(401);
    expect(await tagsOf(ids[3])).toEqual([]);
    const r = await callAs(bulkTags, "POST", "/api/v1/runs/tags", { authorization: `Bearer ${token}` }, { body: { ids: [ids[3]], add: ["locked"] } });
    expect(r.status).toBe(200);
    expect(await tagsOf(ids[3])).toEqual(["locked"]);
  });
});
