import { afterAll, beforeAll, describe, expect, it, onTestFinished } from "vitest";
import { GET as listViews, POST as postView } from "@/app/api/v1/views/route";
import { DELETE as deleteView } from "@/app/api/v1/views/[id]/route";
import { createApiToken } from "@/db/queries/auth";
import { call, callAs, cleanup, count, fields, freshDb } from "./helpers";

let dir: string;
beforeAll(() => {
  dir = freshDb();
});
afterAll(() => cleanup(dir));

const runsView = { page: "runs", query: { tag: ["paper", "final"], agg: "seeds", sort: "-metric.accuracy" } };

describe("saved views", () => {
  it("stores a named view, lists views by name and deletes one, answering what it was", async () => {
    const a = await call(postView, "POST", "/api/v1/views", { body: { name: "  paper runs  ", view: runsView } });
    expect(a.status).toBe(201);
    expect(a.json).toMatchObject({ name: "paper runs", view: runsView });
    expect(typeof a.json.id).toBe("number");
    const b = await call(postView, "POST", "/api/v1/views", { body: { name: "Explorer 4-bit", view: { page: "explorer", query: { "param.bits": "4" } } } });
    expect(b.status).toBe(201);
    const list = await call(listViews, "GET", "/api/v1/views");
    expect(list.status).toBe(200);
    expect(list.json.views.map((v: { name: string }) => v.name)).toEqual(["Explorer 4-bit", "paper runs"]);
    expect(list.json.views[1]).toEqual(a.json);

    const del = await call(deleteView, "DELETE", `/api/v1/views/${a.json.id}`, { params: { id: String(a.json.id) } });
    expect(del.status).toBe(200);
    expect(del.json).toEqual(a.json);
    expect((await call(listViews, "GET", "/api/v1/views")).json.views).toHaveLength(1);
    const again = await call(deleteView, "DELETE", `/api/v1/views/${a.json.id}`, { params: { id: String(a.json.id) } });
    expect(again.status).toBe(404);
    expect(again.json.error).toBe(`saved view ${a.json.id} not found`);
    // the name is free again (an undo posts the deleted view back)
    expect((await call(postView, "POST", "/api/v1/views", { body: { name: "paper runs", view: runsView } })).status).toBe(201);
  });

  it("answers 409 naming a duplicate name and stores nothing", async () => {
    const before = count("saved_views");
    const r = await call(postView, "POST", "/api/v1/views", { body: { name: "paper runs", view: { page: "compare", query: { ids: "1,2" } } } });
    expect(r.status).toBe(409);
    expect(r.json.error).toContain('"paper runs" already exists');
    expect(count("saved_views")).toBe(before);
  });

  it("rejects bad names and views with a 400 naming the field", async () => {
    const cases: [unknown, string][] = [
      [{ name: "", view: runsView }, "name"],
      [{ name: "   ", view: runsView }, "name"],
      [{ name: "x".repeat(81), view: runsView }, "name"],
      [{ view: runsView }, "name"],
      [{ name: "v" }, "view"],
      [{ name: "v", view: { page: "settings", query: {} } }, "view.page"],
      [{ name: "v", view: { page: "runs", query: { "bad key": "1" } } }, "view.query.bad key"],
      [{ name: "v", view: runsView, extra: true }, "(root)"],
    ];
    for (const [body, field] of cases) {
      const r = await call(postView, "POST", "/api/v1/views", { body });
      expect(r.status, JSON.stringify(body).slice(0, 80)).toBe(400);
      expect(fields(r.json), JSON.stringify(body).slice(0, 80)).toContain(field);
    }
    const badId = await call(deleteView, "DELETE", "/api/v1/views/abc", { params: { id: "abc" } });
    expect(badId.status).toBe(400);
    expect(fields(badId.json)).toContain("id");
  });

  it("accepts a name of exactly 80 characters", async () => {
    const r = await call(postView, "POST", "/api/v1/views", { body: { name: "n".repeat(80), view: runsView } });
    expect(r.status).toBe(201);
  });

  it("in token mode needs a live API token to read (with FRONTIER_READ=token), save and delete", async () => {
    const { token } = createApiToken("views-test");
    const saved = (await call(postView, "POST", "/api/v1/views", { body: { name: "token mode", view: runsView } })).json;
    process.env.FRONTIER_AUTH = "token";
    process.env.FRONTIER_READ = "token";
    onTestFinished(() => {
      delete process.env.FRONTIER_AUTH;
      delete process.env.FRONTIER_READ;
    });
    const before = count("saved_views");
    expect((await call(listViews, "GET", "/api/v1/views")).status).toBe(401);
    expect((await call(postView, "POST", "/api/v1/views", { body: { name: "anonymous", view: runsView } })).status).toBe(401);
    expect((await call(deleteView, "DELETE", `/api/v1/views/${saved.id}`, { params: { id: String(saved.id) } })).status).toBe(401);
    expect(count("saved_views")).toBe(before);
    const auth = { authorization: `Bearer ${token}` };
    const list = await callAs(listViews, "GET", "/api/v1/views", auth);
    expect(list.status).toBe(200);
    expect((await callAs(postView, "POST", "/api/v1/views", auth, { body: { name: "with token", view: runsView } })).status).toBe(201);
    expect((await callAs(deleteView, "DELETE", `/api/v1/views/${saved.id}`, auth, { params: { id: String(saved.id) } })).status).toBe(200);
  });
});
