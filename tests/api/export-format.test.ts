import fs from "node:fs";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { GET as exportRuns } from "@/app/api/v1/export/route";
import { POST as postDataset } from "@/app/api/v1/datasets/route";
import { POST as postExperiment } from "@/app/api/v1/experiments/route";
import { POST as postModel } from "@/app/api/v1/models/route";
import { POST as postRun } from "@/app/api/v1/runs/route";
import { call, cleanup, freshDb, writeModelDir } from "./helpers";

let dir: string;
let expId: number;
let loggedId: number;
const NAME = 'rtn, "4 vs 8"';

beforeAll(async () => {
  dir = freshDb();
  expect((await call(postModel, "POST", "/api/v1/models", { body: { id: "m", path: writeModelDir(dir, "m") } })).status).toBe(201);
  const f = path.join(dir, "d.jsonl");
  fs.writeFileSync(f, `${JSON.stringify({ text: "abc" })}\n`);
  expect((await call(postDataset, "POST", "/api/v1/datasets", { body: { id: "d", task: "perplexity", path: f } })).status).toBe(201);
  const exp = await call(postExperiment, "POST", "/api/v1/experiments", {
    body: { name: NAME, modelId: "m", datasetId: "d", runtime: "cpu", methodId: "quant.rtn", grid: { bits: [4, 8] } },
  });
  expect(exp.status).toBe(201);
  expId = exp.json.id ?? exp.json.experiment?.id;
  const run = await call(postRun, "POST", "/api/v1/runs", {
    body: {
      methodId: "baseline",
      params: {},
      modelId: "m",
      datasetId: "d",
      runtime: "cpu",
      metrics: { perplexity: 9.5 },
      startedAt: 1_767_225_600_000,
      finishedAt: 1_767_225_601_500,
    },
  });
  expect(run.status).toBe(201);
  loggedId = run.json.id;
});
afterAll(() => cleanup(dir));

/** The CSV's records split naively (the name's comma and quotes are checked through the quoted form). */
const lines = (text: string) => text.split("\r\n").filter(Boolean);

describe("CSV export format", () => {
  it("names each run's experiment and writes times as ISO 8601", async () => {
    const res = await call(exportRuns, "GET", "/api/v1/export?format=csv");
    expect(res.status).toBe(200);
    const [header, ...rows] = lines(res.text);
    expect(header.startsWith("id,experimentId,experimentName,methodId,")).toBe(true);
    const cols = header.split(",");
    const expRows = rows.filter((r) => r.split(",")[1] === String(expId));
    expect(expRows).toHaveLength(2);
    for (const r of expRows) expect(r).toContain(`,${expId},"rtn, ""4 vs 8""",quant.rtn,`);
    const logged = rows.find((r) => r.startsWith(`${loggedId},`))!;
    expect(logged.startsWith(`${loggedId},,,baseline,`)).toBe(true);
    const cells = logged.split(",");
    expect(cells[cols.indexOf("startedAt")]).toBe("2026-01-01T00:00:00.000Z");
    expect(cells[cols.indexOf("finishedAt")]).toBe("2026-01-01T00:00:01.500Z");
    expect(cells[cols.indexOf("createdAt")]).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/);
  });

  it("starts with a UTF-8 byte order mark only when bom=1", async () => {
    const bytes = async (q: string) => new Uint8Array(await (await exportRuns(new Request(`http://localhost/api/v1/export?${q}`))).arrayBuffer());
    const withBom = await bytes("format=csv&bom=1");
    expect([...withBom.slice(0, 3)]).toEqual([0xef, 0xbb, 0xbf]);
    expect(new TextDecoder("utf-8", { ignoreBOM: true }).decode(withBom.slice(3, 5))).toBe("id");
    const without = await bytes("format=csv");
    expect(new TextDecoder().decode(without.slice(0, 2))).toBe("id");
    expect(without[0]).not.toBe(0xef);
    const json = await bytes("format=json&bom=1");
    expect(json[0]).toBe("[".charCodeAt(0));
    const bad = await call(exportRuns, "GET", "/api/v1/export?bom=yes");
    expect(bad.status).toBe(400);
    expect(bad.json.details).toContainEqual({ field: "bom", message: 'must be one of "0", "1"' });
  });
});
