import fs from "node:fs";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { GET as getOpenApi } from "@/app/api/v1/openapi.json/route";
import { call } from "./helpers";

/** Every route file under app/api/v1 as its OpenAPI path, with the HTTP methods it exports. */
function routeFiles(): { path: string; file: string }[] {
  const root = path.join(process.cwd(), "app", "api", "v1");
  const out: { path: string; file: string }[] = [];
  const walk = (dir: string) => {
    for (const e of fs.readdirSync(dir, { withFileTypes: true })) {
      const p = path.join(dir, e.name);
      if (e.isDirectory()) walk(p);
      else if (e.name === "route.ts") {
        const rel = path
          .relative(root, dir)
          .split(path.sep)
          .map((s) => s.replace(/^\[(.+)\]$/, "{$1}"));
        out.push({ path: ["/api/v1", ...rel].join("/").replace(/\/$/, ""), file: p });
      }
    }
  };
  walk(root);
  return out;
}

describe("GET /api/v1/openapi.json", () => {
  it("is an OpenAPI 3.1 document listing every route file's path and method", async () => {
    const r = await call(getOpenApi, "GET", "/api/v1/openapi.json");
    expect(r.status).toBe(200);
    expect(r.json.openapi).toBe("3.1.0");
    const routes = routeFiles();
    expect(routes.length).toBeGreaterThan(15);
    for (const route of routes) {
      const src = fs.readFileSync(route.file, "utf8");
      const methods = [...src.matchAll(/export (?:async )?function (GET|POST|PATCH|DELETE|PUT)\b/g)].map((m) => m[1].toLowerCase());
      expect(r.json.paths[route.path], route.path).toBeDefined();
      for (const m of methods) expect(r.json.paths[route.path][m], `${m} ${route.path}`).toBeDefined();
    }
  });

  it("describes bodies and parameters from the zod schemas", async () => {
    const doc = (await call(getOpenApi, "GET", "/api/v1/openapi.json")).json;
    const exp = doc.paths["/api/v1/experiments"].post.requestBody.content["application/json"].schema;
    expect(exp.required).toEqual(expect.arrayContaining(["name", "modelId", "datasetId", "runtime", "methodId"]));
    expect(exp.properties.runtime.enum).toEqual(["cpu", "webgpu", "wasm", "browser"]);
    const params = doc.paths["/api/v1/runs"].get.parameters.map((p: { name: string }) => p.name);
    expect(params).toEqual(expect.arrayContaining(["family", "status", "tag", "sort", "cursor", "limit", "includeSynthetic"]));
    const byId = doc.paths["/api/v1/runs/{id}"].get.parameters;
    expect(byId[0]).toMatchObject({ name: "id", in: "path", required: true });
    expect(doc.paths["/api/v1/workers/lease"].post.security).toEqual([{ bearer: [] }]);
    const points = doc.paths["/api/v1/runs/{id}/metrics"].post.requestBody.content["application/json"].schema;
    expect(points.properties.points.maxItems).toBe(10_000);
  });
});
