import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { POST as postRun, GET as listRuns } from "@/app/api/v1/runs/route";
import { GET as exportRuns } from "@/app/api/v1/export/route";
import { csvCell, csvLine } from "@/lib/export/csv";
import { exportChunks, exportLayout } from "@/db/queries/export";
import { csvRunEncoder, exportCells, exportHeader } from "@/lib/export/columns";
import { ExportQuery } from "@/lib/schemas/export";
import { parseRunQuery } from "@/lib/schemas/filters";
import { getMethod } from "@/lib/methods";
import { emptyFilter } from "@/lib/schemas/filters";
import { call, cleanup, fields, freshDb, rng } from "./helpers";

/** A strict RFC 4180 reader: CRLF records, quoted fields with doubled quotes; throws on anything else. */
function parseCsv(text: string): string[][] {
  const rows: string[][] = [];
  let i = 0;
  while (i < text.length) {
    const row: string[] = [];
    for (;;) {
      let cell = "";
      if (text[i] === '"') {
        i++;
        for (;;) {
          if (i >= text.length) throw new Error("unterminated quote");
          if (text[i] === '"') {
            if (text[i + 1] === '"') {
              cell += '"';
              i += 2;
            } else {
              i++;
              break;
            }
          } else cell += text[i++];
        }
      } else {
        while (i < text.length && text[i] !== "," && text[i] !== "\r" && text[i] !== "\n") {
          if (text[i] === '"') throw new Error(`bare quote at ${i}`);
          cell += text[i++];
        }
      }
      row.push(cell);
      if (text[i] === ",") {
        i++;
        continue;
      }
      if (text[i] === "\r" && text[i + 1] === "\n") {
        i += 2;
        break;
      }
      throw new Error(`expected CRLF or comma at ${i}, got ${JSON.stringify(text[i])}`);
    }
    rows.push(row);
  }
  return rows;
}

const NASTY = ['=HYPERLINK("http://x","y")', "+1+2", "-cmd|' /C calc'!A0", "@SUM(A1)", "\tTAB", "\rCR", 'say "hi", then\r\nleave', "plain"];

let dir: string;
const ids: number[] = [];
beforeAll(async () => {
  dir = freshDb();
  const r = rng(3);
  for (let i = 0; i < 120; i++) {
    const method =
      i % 3 === 0
        ? { methodId: "quant.rtn", params: { bits: [2, 4, 8][i % 3 === 0 ? (i / 3) % 3 : 0], keep_layers: i % 2 ? ["lm_head"] : [] } }
        : { methodId: "baseline", params: {} };
    const res = await call(postRun, "POST", "/api/v1/runs", {
      body: {
        ...method,
        modelId: "m",
        datasetId: "d",
        runtime: i % 2 ? "cpu" : "wasm",
        metrics: { accuracy: Math.round(r() * 1000) / 1000, quality_delta: -Math.round(r() * 100) / 1000, ...(i % 4 === 0 ? { "zz.custom": i } : {}) },
        notes: NASTY[i % NASTY.length],
        tags: i % 5 === 0 ? ["=cmd", "ok"] : [],
      },
    });
    expect(res.status).toBe(201);
    ids.push(res.json.id);
  }
});
afterAll(() => cleanup(dir));

describe("csv encoding", () => {
  it("quotes per RFC 4180 and neutralises formula-like text", () => {
    expect(csvCell('a,"b"')).toBe('"a,""b"""');
    expect(csvCell("=1+1")).toBe("'=1+1");
    expect(csvCell("-x")).toBe("'-x");
    expect(csvCell("\rx")).toBe('"\'\rx"');
    expect(csvCell(-0.25)).toBe("-0.25"); // numbers stay numeric, negative ones included
    expect(csvCell("-0.25")).toBe("'-0.25"); // text that merely looks like a number does not
    expect(csvCell(null)).toBe("");
    expect(csvCell(Number.NaN)).toBe("");
    expect(csvCell(["a", "b"])).toBe('"[""a"",""b""]"');
    expect(csvLine([1, "x"])).toBe("1,x\r\n");
  });
});

describe("GET /api/v1/export", () => {
  it("streams every matching run as CSV with param and metric columns", async () => {
    const res = await call(exportRuns, "GET", "/api/v1/export?format=csv");
    expect(res.status).toBe(200);
    expect(res.headers.get("content-type")).toMatch(/^text\/csv/);
    expect(res.headers.get("content-disposition")).toMatch(/^attachment; filename="frontier-runs-.*\.csv"$/);
    const rows = parseCsv(res.text);
    const [header, ...body] = rows;
    expect(body).toHaveLength(120);
    expect(header.slice(0, 4)).toEqual(["id", "experimentId", "experimentName", "methodId"]);
    const rtnParams = Object.keys(getMethod("quant.rtn")!.params.shape).sort();
    expect(header.filter((h) => h.startsWith("param."))).toEqual(rtnParams.map((p) => `param.${p}`));
    expect(rtnParams).toEqual(expect.arrayContaining(["bits", "group_size", "keep_layers"]));
    expect(header.filter((h) => h.startsWith("metric."))).toEqual(["metric.accuracy", "metric.quality_delta", "metric.zz.custom"]);
    expect(body.every((r) => r.length === header.length)).toBe(true);
    const col = (name: string) => header.indexOf(name);
    // times are ISO 8601 (UTC), not epoch milliseconds
    expect(body.every((r) => /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/.test(r[col("createdAt")]))).toBe(true);
    expect(body.every((r) => r[col("experimentName")] === "")).toBe(true); // logged runs belong to no experiment
    expect(body.map((r) => Number(r[col("id")]))).toEqual(ids);
    // notes come back neutralised, byte for byte otherwise
    for (const [i, r] of body.entries()) {
      const note = NASTY[i % NASTY.length];
      expect(r[col("notes")]).toBe(/^[=+\-@\t\r]/.test(note) ? `'${note}` : note);
    }
    expect(body[0][col("tags")]).toBe("'=cmd;ok");
    // negative metrics stay plain numbers
    const deltas = body.map((r) => r[col("metric.quality_delta")]);
    expect(deltas.some((d) => d.startsWith("-"))).toBe(true);
    expect(deltas.every((d) => d === "" || Number.isFinite(Number(d)))).toBe(true);
    expect(body[0][col("param.keep_layers")]).toBe("[]");
    expect(body[1][col("param.bits")]).toBe("");
    // no cell of the document starts a formula
    for (const r of rows) for (const c of r) expect(/^[=+@\t\r]/.test(c) || (/^-/.test(c) && !Number.isFinite(Number(c)))).toBe(false);
  });

  it("exports exactly the filtered runs (count equals GET /runs total)", async () => {
    const q = "runtime=cpu&metric.accuracy>=0.4&method=baseline";
    const res = await call(exportRuns, "GET", `/api/v1/export?${q}`);
    const rows = parseCsv(res.text).slice(1);
    const page = await call(listRuns, "GET", `/api/v1/runs?${q}&limit=500&sort=id`);
    expect(page.json.total).toBeGreaterThan(0);
    expect(rows.length).toBe(page.json.total);
    expect(rows.map((r) => Number(r[0]))).toEqual(page.json.runs.map((r: { id: number }) => r.id));
    const header = parseCsv(res.text)[0];
    expect(header.filter((h) => h.startsWith("param."))).toEqual([]); // baseline takes no params
  });

  it("reads chunk after chunk by keyset, each run once", () => {
    const chunks = [...exportChunks({ ...emptyFilter(), runtime: ["cpu"] }, undefined, 7)];
    expect(chunks.length).toBe(Math.ceil(60 / 7));
    const seen = chunks.flat().map((r) => r.id);
    expect(seen).toEqual(ids.filter((_, i) => i % 2 === 1));
    expect(chunks.flat().every((r) => typeof r.metrics.accuracy === "number")).toBe(true);
  });

  it("encodes each run exactly as the generic cell path does", () => {
    const filter = emptyFilter();
    const layout = exportLayout(filter);
    const encode = csvRunEncoder(layout, csvCell);
    const runs = [...exportChunks(filter)].flat();
    expect(runs).toHaveLength(120);
    for (const r of runs) expect(encode(r)).toBe(csvLine(exportCells(r, layout)));
  });

  it.each(["", "runtime=cpu&metric.accuracy>=0.4", "tag==cmd"])("streams the same text as the generic cell path, filter %j", async (q) => {
    const { filter } = parseRunQuery(new URLSearchParams(q), ExportQuery);
    const layout = exportLayout(filter);
    const expected =
      csvLine(exportHeader(layout)) +
      [...exportChunks(filter)]
        .flat()
        .map((r) => csvLine(exportCells(r, layout)))
        .join("");
    const res = await call(exportRuns, "GET", `/api/v1/export?${q}`);
    expect(res.text.split("\r\n").length).toBeGreaterThan(2);
    expect(res.text).toBe(expected);
  });

  it("streams JSON as an array of runs with params and metrics objects", async () => {
    const res = await call(exportRuns, "GET", "/api/v1/export?format=json&family=quantization");
    expect(res.status).toBe(200);
    expect(res.headers.get("content-disposition")).toMatch(/\.json"$/);
    const runs = JSON.parse(res.text);
    expect(runs).toHaveLength(40);
    expect(runs[0]).toMatchObject({ methodId: "quant.rtn", params: { bits: 2 }, metrics: { accuracy: expect.any(Number) } });
  });

  it("answers an empty export with only the header, and 400 for a bad format", async () => {
    const res = await call(exportRuns, "GET", "/api/v1/export?family=nothing");
    expect(parseCsv(res.text)).toHaveLength(1);
    const bad = await call(exportRuns, "GET", "/api/v1/export?format=xlsx");
    expect(bad.status).toBe(400);
    expect(fields(bad.json)).toEqual(["format"]);
  });
});
