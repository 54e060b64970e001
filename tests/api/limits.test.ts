import http from "node:http";
import type { AddressInfo } from "node:net";
import { Readable } from "node:stream";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { GET as exportRuns } from "@/app/api/v1/export/route";
import { GET as getPareto } from "@/app/api/v1/pareto/route";
import { POST as postMetrics } from "@/app/api/v1/runs/[id]/metrics/route";
import { PATCH as patchRun } from "@/app/api/v1/runs/[id]/route";
import { GET as listRuns, POST as postRun } from "@/app/api/v1/runs/route";
import { jsonDepth, MAX_BATCH_BODY_BYTES, MAX_BODY_BYTES, MAX_JSON_DEPTH, readJson } from "@/lib/http";
import { MAX_METRIC_KEYS } from "@/lib/schemas/common";
import { MAX_METRIC_FILTERS } from "@/lib/schemas/filters";
import { MAX_HARDWARE_BYTES, MAX_HARDWARE_KEYS } from "@/lib/schemas/runs";
import { CompleteBody, WorkerRegisterBody } from "@/lib/schemas/workers";
import { type ApiServer, startApiServer } from "../helpers/api-server";
import { call, cleanup, fields, freshDb, snapshot } from "./helpers";

const run = (over: Record<string, unknown> = {}) => ({
  methodId: "baseline",
  modelId: "m",
  datasetId: "d",
  runtime: "cpu",
  metrics: { accuracy: 0.5 },
  ...over,
});
const metrics = (n: number) => Object.fromEntries(Array.from({ length: n }, (_, i) => [`m${i}`, i]));
const fp = { runtime: "cpu", ortVersion: "1.30.0", cpuModel: "test CPU", cpuCores: 2, memoryBytes: 8e9, platform: "linux-x64", nodeVersion: "v20" };

/** A request whose body is a stream that never ends on its own; `pulled` counts the bytes read from it. */
function endlessRequest(url: string, chunk = 64 * 1024): { req: Request; pulled: () => number } {
  let pulled = 0;
  const piece = new TextEncoder().encode(`{"pad":"${"x".repeat(chunk)}`);
  const body = new ReadableStream<Uint8Array>({
    pull(controller) {
      pulled += piece.byteLength;
      controller.enqueue(piece);
    },
  });
  const req = new Request(new URL(url, "http://localhost"), {
    method: "POST",
    body,
    headers: { "content-type": "application/json" },
    duplex: "half",
  } as RequestInit);
  return { req, pulled: () => pulled };
}

let dir: string;
let runId: number;

beforeAll(async () => {
  dir = freshDb();
  const r = await call(postRun, "POST", "/api/v1/runs", { body: run() });
  expect(r.status).toBe(201);
  runId = r.json.id;
});
afterAll(() => cleanup(dir));

describe("body size", () => {
  it("refuses a body over 1 MiB with 413 naming the limit and writes nothing", async () => {
    const before = snapshot();
    const t0 = Date.now();
    const r = await call(postRun, "POST", "/api/v1/runs", { body: run({ notes: "x".repeat(MAX_BODY_BYTES) }) });
    expect(r.status).toBe(413);
    expect(r.json.error).toContain(String(MAX_BODY_BYTES));
    expect(Date.now() - t0).toBeLessThan(2000);
    expect(snapshot()).toEqual(before);
  });

  it("refuses a declared Content-Length over the limit before reading the body", async () => {
    const { req, pulled } = endlessRequest("/api/v1/runs");
    const headers = new Headers(req.headers);
    headers.set("content-length", String(100 * 1024 * 1024));
    const declared = new Request(req, { headers, duplex: "half" } as RequestInit);
    const res = await postRun(declared);
    expect(res.status).toBe(413);
    expect(pulled()).toBeLessThan(256 * 1024); // at most what the stream queued up front
  });

  it("stops reading a streamed body at the cap instead of buffering it whole", async () => {
    const before = snapshot();
    const { req, pulled } = endlessRequest("/api/v1/runs");
    const res = await postRun(req);
    expect(res.status).toBe(413);
    expect(((await res.json()) as { error: string }).error).toContain(String(MAX_BODY_BYTES));
    expect(pulled()).toBeLessThan(MAX_BODY_BYTES + 3 * 64 * 1024);
    expect(snapshot()).toEqual(before);
  });

  it("lets a metric batch reach 2 MiB, and no further", async () => {
    const key = `k${"x".repeat(62)}`;
    const points = Array.from({ length: 10_000 }, (_, i) => ({ key, step: i, value: 0.5, ts: 1_700_000_000_000 + i }));
    const text = JSON.stringify({ points });
    expect(text.length).toBeGreaterThan(MAX_BODY_BYTES);
    expect(text.length).toBeLessThan(MAX_BATCH_BODY_BYTES);
    const ok = await call(postMetrics, "POST", `/api/v1/runs/${runId}/metrics`, { raw: text, params: { id: String(runId) } });
    expect(ok.status).toBe(201);
    expect(ok.json.inserted).toBe(10_000);
    // The same size is too much for an ordinary body.
    expect((await call(postRun, "POST", "/api/v1/runs", { raw: text })).status).toBe(413);
    const { req, pulled } = endlessRequest(`/api/v1/runs/${runId}/metrics`);
    const res = await postMetrics(req, { params: Promise.resolve({ id: String(runId) }) });
    expect(res.status).toBe(413);
    expect(((await res.json()) as { error: string }).error).toContain(String(MAX_BATCH_BODY_BYTES));
    expect(pulled()).toBeLessThan(MAX_BATCH_BODY_BYTES + 3 * 64 * 1024);
  });
});

describe("JSON depth", () => {
  it("counts nesting outside strings only", () => {
    expect(jsonDepth('{"a":[1,{"b":[]}]}')).toBe(4);
    expect(jsonDepth('{"a":"[[[[{{{{\\"[["}')).toBe(1);
    expect(jsonDepth("1")).toBe(0);
  });

  it("answers a 10,000-deep body with 400 naming the limit, not a stack overflow", async () => {
    const before = snapshot();
    const deep = `${"[".repeat(10_000)}${"]".repeat(10_000)}`;
    const r = await call(postRun, "POST", "/api/v1/runs", { raw: `{"methodId":"baseline","params":{"x":${deep}}}` });
    expect(r.status).toBe(400);
    expect(r.json.error).toContain(String(MAX_JSON_DEPTH));
    expect(snapshot()).toEqual(before);
  });

  it("parses nesting up to the limit and refuses one level more", async () => {
    const nested = (n: number) => `${"[".repeat(n)}1${"]".repeat(n)}`;
    const read = (text: string) => readJson(new Request("http://localhost/", { method: "POST", body: text }));
    expect(jsonDepth(nested(MAX_JSON_DEPTH))).toBe(MAX_JSON_DEPTH);
    expect(await read(nested(MAX_JSON_DEPTH))).toEqual(JSON.parse(nested(MAX_JSON_DEPTH)));
    await expect(read(nested(MAX_JSON_DEPTH + 1))).rejects.toMatchObject({ status: 400 });
  });
});

describe("metric keys", () => {
  it(`accepts ${MAX_METRIC_KEYS} metric keys on a logged run and refuses ${MAX_METRIC_KEYS + 1}`, async () => {
    expect((await call(postRun, "POST", "/api/v1/runs", { body: run({ metrics: metrics(MAX_METRIC_KEYS) }) })).status).toBe(201);
    const before = snapshot();
    const r = await call(postRun, "POST", "/api/v1/runs", { body: run({ metrics: metrics(MAX_METRIC_KEYS + 1) }) });
    expect(r.status).toBe(400);
    expect(fields(r.json)).toContain("metrics");
    expect(JSON.stringify(r.json.details)).toContain(`at most ${MAX_METRIC_KEYS} metric keys`);
    expect(snapshot()).toEqual(before);
  });

  it("bounds a completed run's metrics and baseline metrics too", () => {
    const body = (m: Record<string, number>, b?: Record<string, number>) => ({
      leaseToken: "t",
      metrics: m,
      hardware: fp,
      ...(b ? { baselineMetrics: b } : {}),
    });
    expect(CompleteBody.safeParse(body(metrics(MAX_METRIC_KEYS))).success).toBe(true);
    const over = CompleteBody.safeParse(body(metrics(MAX_METRIC_KEYS + 1)));
    expect(over.success).toBe(false);
    expect(over.error?.issues[0].message).toContain(String(MAX_METRIC_KEYS));
    expect(CompleteBody.safeParse(body({ a: 1 }, metrics(MAX_METRIC_KEYS + 1))).success).toBe(false);
  });

  it("PATCH takes no metrics at all", async () => {
    const r = await call(patchRun, "PATCH", `/api/v1/runs/${runId}`, { body: { metrics: metrics(MAX_METRIC_KEYS + 1) }, params: { id: String(runId) } });
    expect(r.status).toBe(400);
  });
});

describe("filters", () => {
  const query = (n: number) => Array.from({ length: n }, (_, i) => (i % 2 === 0 ? `metric.accuracy>${i / 1000}` : `metric=accuracy:lt:${2 + i}`)).join("&");

  it.each([
    ["/api/v1/runs", listRuns],
    ["/api/v1/export", exportRuns],
    ["/api/v1/pareto", getPareto],
  ] as const)(`%s refuses ${MAX_METRIC_FILTERS + 1} metric filters with 400 naming the limit`, async (path, handler) => {
    const r = await call(handler, "GET", `${path}?${query(MAX_METRIC_FILTERS + 1)}`);
    expect(r.status).toBe(400);
    expect(r.json.error).toContain(String(MAX_METRIC_FILTERS));
    // A thousand is a 400 too, not SQLite's "Expression tree is too large".
    expect((await call(handler, "GET", `${path}?${query(1000)}`)).status).toBe(400);
  });

  it(`answers ${MAX_METRIC_FILTERS} metric filters`, async () => {
    const r = await call(listRuns, "GET", `/api/v1/runs?${query(MAX_METRIC_FILTERS)}`);
    expect(r.status).toBe(200);
  });
});

describe("hardware", () => {
  it("refuses a 100 KB hardware object on a logged run with 400 naming the limit", async () => {
    const before = snapshot();
    const r = await call(postRun, "POST", "/api/v1/runs", { body: run({ hardware: { label: "box", blob: "x".repeat(100 * 1024) } }) });
    expect(r.status).toBe(400);
    expect(fields(r.json)).toContain("hardware");
    expect(JSON.stringify(r.json.details)).toContain(String(MAX_HARDWARE_BYTES));
    expect(snapshot()).toEqual(before);
  });

  it("bounds keys, strings and nesting, and keeps fingerprints and labels working", async () => {
    const many = Object.fromEntries(Array.from({ length: MAX_HARDWARE_KEYS + 1 }, (_, i) => [`k${i}`, i]));
    const bad = [many, { cpuModel: "x".repeat(301) }, { a: { b: { c: 1 } } }, { a: [[1]] }];
    for (const hardware of bad) expect((await call(postRun, "POST", "/api/v1/runs", { body: run({ hardware }) })).status).toBe(400);
    const { runtime: _, ...fpFields } = fp;
    const good = [
      { label: "cpu-box" },
      { ...fpFields, isa: ["avx2", "avx512f"], adapter: { vendor: "v", architecture: "a", description: "d" } },
      { gpu: "H200", driver: "550", count: 8, mig: false, notes: null },
    ];
    for (const hardware of good) expect((await call(postRun, "POST", "/api/v1/runs", { body: run({ hardware }) })).status).toBe(201);
  });

  it("a worker fingerprint keeps its field bounds on register and complete", () => {
    const huge = { ...fp, cpuModel: "x".repeat(100 * 1024) };
    expect(WorkerRegisterBody.safeParse({ name: "w", capabilities: { runtimes: ["cpu"] }, hardware: { cpu: huge } }).success).toBe(false);
    expect(CompleteBody.safeParse({ leaseToken: "t", metrics: {}, hardware: huge }).success).toBe(false);
  });
});

describe("over real HTTP", () => {
  let api: ApiServer;
  beforeAll(async () => {
    api = await startApiServer();
  });
  afterAll(async () => {
    await api.close();
  });

  const health = async () => {
    const t0 = performance.now();
    const r = await fetch(`${api.url}/api/v1/health`);
    expect(r.status).toBe(200);
    await r.text();
    return performance.now() - t0;
  };

  it("answers /health promptly while a large body is refused", async () => {
    const runsBefore = (await (await fetch(`${api.url}/api/v1/health`)).json()).runs;
    const big = Buffer.alloc(20 * 1024 * 1024, 0x20);
    const t0 = performance.now();
    const upload = fetch(`${api.url}/api/v1/runs`, { method: "POST", headers: { "content-type": "application/json" }, body: big });
    const waits: number[] = [];
    for (let i = 0; i < 5; i++) waits.push(await health());
    const res = await upload;
    expect(res.status).toBe(413);
    expect(((await res.json()) as { error: string }).error).toContain(String(MAX_BODY_BYTES));
    expect(performance.now() - t0).toBeLessThan(5000);
    expect(Math.max(...waits)).toBeLessThan(1000);
    expect((await (await fetch(`${api.url}/api/v1/health`)).json()).runs).toBe(runsBefore);
  });

  it("answers /health promptly while deep JSON and 257 metric keys are refused", async () => {
    const post = (body: string) => fetch(`${api.url}/api/v1/runs`, { method: "POST", headers: { "content-type": "application/json" }, body });
    const deep = post(`{"params":${"[".repeat(10_000)}${"]".repeat(10_000)}}`);
    const wide = post(JSON.stringify(run({ metrics: metrics(MAX_METRIC_KEYS + 1) })));
    const wait = await health();
    expect((await deep).status).toBe(400);
    expect((await wide).status).toBe(400);
    expect(wait).toBeLessThan(1000);
  });

  it("stops reading a streamed upload at the cap when the handler is given the socket's stream", async () => {
    // The way Next.js hands a route its request: the body is the socket's stream, read as it arrives.
    let received = 0;
    const server = http.createServer(async (req, res) => {
      req.on("data", (c: Buffer) => {
        received += c.length;
      });
      const body = Readable.toWeb(req) as ReadableStream<Uint8Array>;
      const request = new Request(`http://127.0.0.1${req.url}`, {
        method: "POST",
        body,
        headers: { "content-type": "application/json" },
        duplex: "half",
      } as RequestInit);
      const response = await postRun(request);
      res.writeHead(response.status, { "content-type": "application/json", connection: "close" });
      res.end(Buffer.from(await response.arrayBuffer()));
      req.destroy();
    });
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    const { port } = server.address() as AddressInfo;
    try {
      const status = await new Promise<number>((resolve, reject) => {
        const client = http.request(
          { host: "127.0.0.1", port, path: "/api/v1/runs", method: "POST", headers: { "content-type": "application/json" } },
          (res) => {
            res.resume();
            resolve(res.statusCode ?? 0);
          },
        );
        client.on("error", (e) =>
          (e as NodeJS.ErrnoException).code === "ECONNRESET" || (e as NodeJS.ErrnoException).code === "EPIPE" ? undefined : reject(e),
        );
        // 100 MiB offered chunk by chunk; the server answers long before it is all sent.
        const chunk = Buffer.alloc(64 * 1024, 0x20);
        let sent = 0;
        const pump = () => {
          while (sent < 100 * 1024 * 1024 && !client.destroyed) {
            sent += chunk.length;
            if (!client.write(chunk)) return void client.once("drain", pump);
          }
          client.end();
        };
        pump();
      });
      expect(status).toBe(413);
      expect(received).toBeLessThan(20 * 1024 * 1024);
    } finally {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    }
  });
});
