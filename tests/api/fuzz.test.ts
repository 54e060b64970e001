import fs from "node:fs";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { MAX_BATCH_BODY_BYTES, MAX_BODY_BYTES } from "@/lib/http";
import { type ApiServer, startApiServer } from "../helpers/api-server";
import { rng, writeModelDir } from "./helpers";

/**
 * Hostile payloads against every write endpoint of one real server: a seeded generator mutates a valid body of each
 * endpoint so that it is invalid (malformed JSON, NaN/Infinity literals, oversized, wrong types, huge numbers,
 * unicode/NUL/lone surrogates in keys and identifiers, deep nesting, prototype-pollution keys, arrays for objects,
 * wrong content types, hostile path ids). Every answer must be a 4xx, no table may gain or lose a row, the process's
 * Object.prototype must stay clean and /health must still answer fast.
 */

const TOTAL = 10_000;
const CONCURRENCY = 8;
const SEED = 20261130;
const ENROLL = "fuzz-enrollment-token-00000001";

let api: ApiServer;
let runId: number;
let workerToken: string;
let shareToken: string;
let modelDir: string;
let datasetFile: string;

interface Endpoint {
  method: string;
  /** The path with `:id` (or `:token`) where the hostile id goes. */
  path: string;
  /** A valid body; null for endpoints that take none. */
  body: (() => Record<string, unknown>) | null;
  auth?: () => string;
  limit?: number;
}

const fp = { runtime: "cpu", ortVersion: "1.30.0", cpuModel: "fuzz CPU", cpuCores: 2, memoryBytes: 8e9, platform: "linux-x64", nodeVersion: "v20" };

const endpoints = (): Endpoint[] => [
  {
    method: "POST",
    path: "/api/v1/runs",
    body: () => ({ methodId: "baseline", modelId: "m", datasetId: "d", runtime: "cpu", metrics: { accuracy: 0.5 }, tags: ["a"], seed: 1 }),
  },
  { method: "PATCH", path: "/api/v1/runs/:id", body: () => ({ tags: ["x", "y"], notes: "n" }) },
  { method: "POST", path: "/api/v1/runs/:id/cancel", body: null },
  { method: "POST", path: "/api/v1/runs/:id/retry", body: null },
  {
    method: "POST",
    path: "/api/v1/runs/:id/metrics",
    body: () => ({ batchId: "b1", points: [{ key: "loss", step: 1, value: 0.5 }] }),
    limit: MAX_BATCH_BODY_BYTES,
  },
  {
    method: "POST",
    path: "/api/v1/experiments",
    body: () => ({ name: "e", modelId: "fuzz-model", datasetId: "fuzz-data", runtime: "cpu", methodId: "baseline", grid: {}, seed: 1 }),
  },
  { method: "POST", path: "/api/v1/models", body: () => ({ id: "fuzz-model-2", name: "m2", kind: "decoder-lm", path: modelDir }) },
  { method: "POST", path: "/api/v1/datasets", body: () => ({ id: "fuzz-data-2", name: "d2", task: "perplexity", path: datasetFile }) },
  { method: "POST", path: "/api/v1/share", body: () => ({ view: { page: "runs", query: { family: "baseline" } }, expiresInDays: 7 }) },
  { method: "DELETE", path: "/api/v1/share/:token", body: null },
  {
    method: "POST",
    path: "/api/v1/workers/register",
    body: () => ({ name: "w", capabilities: { runtimes: ["cpu"] }, hardware: { cpu: fp } }),
    auth: () => ENROLL,
  },
  { method: "POST", path: "/api/v1/workers/lease", body: () => ({ runtimes: ["cpu"] }), auth: () => workerToken },
  { method: "POST", path: "/api/v1/runs/:id/heartbeat", body: () => ({ leaseToken: "lt", stage: "s", progress: 0.5 }), auth: () => workerToken },
  {
    method: "POST",
    path: "/api/v1/runs/:id/complete",
    body: () => ({ leaseToken: "lt", metrics: { accuracy: 0.5 }, hardware: fp }),
    auth: () => workerToken,
  },
  { method: "POST", path: "/api/v1/runs/:id/fail", body: () => ({ leaseToken: "lt", error: "e", retryable: false }), auth: () => workerToken },
  { method: "POST", path: "/api/v1/workers/:id/revoke", body: null },
  { method: "POST", path: "/api/v1/session", body: () => ({ token: "ft_x" }) },
];

const HOSTILE_STRINGS = [
  "\u0000",
  "a\u0000b",
  "\ud800",
  "\udfff\ud800",
  "\u202e\u2066evil",
  "💩".repeat(50),
  "\uffff\ufffe",
  "%00",
  "../../../../etc/passwd",
  "'; DROP TABLE runs; --",
  "<script>alert(1)</script>",
  "\\u0000",
  " ",
];
const CONTROL_STRINGS = ["\u0000", "a\u0000b", "\ud800", "\udfff\ud800", " ", "a\u001bb", "\u007f"];
/** Path ids no endpoint accepts (ids must match /^[1-9][0-9]{0,14}$/, tokens are base64url). */
const HOSTILE_IDS = ["abc", "-1", "0", "1.5", "99999999999999999999", "1e400", "%00", "%F0%9F%92%A9", "null", "NaN", "Infinity", "%2e%2e", "%ED%A0%80", "1%00"];
/** Fields that name something (a registered id, an enum value, a metric key): a hostile string there is never valid. Free text (names, notes, tags, hardware labels) may hold any string. */
const IDENTIFIERS = new Set(["methodId", "modelId", "datasetId", "runtime", "runtimes", "key", "page", "kind", "task", "id", "token"]);
const POLLUTION_KEYS = ["__proto__", "constructor", "prototype"];
const WRONG_CONTENT_TYPES = [
  "text/plain",
  "text/plain;charset=UTF-8",
  "application/x-www-form-urlencoded",
  "multipart/form-data; boundary=x",
  "text/html",
  "application/xml",
  "application/octet-stream",
];

interface Payload {
  kind: string;
  method: string;
  path: string;
  headers: Record<string, string>;
  body?: string;
}

type Json = null | boolean | number | string | Json[] | { [k: string]: Json };

/** A value of another JSON type than `v` (never null: some fields are nullable). */
function wrongType(v: unknown, r: () => number): Json {
  const options: Json[] = [];
  if (typeof v !== "string") options.push("str", "");
  if (typeof v !== "number") options.push(7, -1);
  if (typeof v !== "boolean") options.push(true, false);
  // never [] alone: some string fields also take a list of strings, and an empty list is one
  if (!Array.isArray(v)) options.push([1, "a"], [null]);
  if (typeof v !== "object" || v === null || Array.isArray(v)) options.push({}, { a: 1 });
  return options[Math.floor(r() * options.length)];
}

/** The paths of every value in a body, as key lists (arrays by index). */
function leafPaths(v: unknown, prefix: (string | number)[] = []): (string | number)[][] {
  const out: (string | number)[][] = prefix.length ? [prefix] : [];
  if (Array.isArray(v)) v.forEach((x, i) => out.push(...leafPaths(x, [...prefix, i])));
  else if (v && typeof v === "object") for (const [k, x] of Object.entries(v)) out.push(...leafPaths(x, [...prefix, k]));
  return out;
}

function setAt(obj: Record<string, unknown>, p: (string | number)[], value: unknown): void {
  let cur = obj as Record<string | number, unknown>;
  for (const k of p.slice(0, -1)) cur = cur[k] as Record<string | number, unknown>;
  cur[p[p.length - 1]] = value;
}

function getAt(obj: unknown, p: (string | number)[]): unknown {
  let cur = obj as Record<string | number, unknown>;
  for (const k of p) cur = cur[k] as Record<string | number, unknown>;
  return cur;
}

/** Replaces the JSON text of the value at `p` with `literal` (JSON.stringify cannot write NaN, 1e400 or __proto__ keys). */
function withLiteral(body: Record<string, unknown>, p: (string | number)[], literal: string): string {
  const marker = `"@@literal-${Math.random().toString(36).slice(2)}@@"`;
  const copy = structuredClone(body);
  setAt(copy, p, JSON.parse(marker));
  return JSON.stringify(copy).replace(marker, literal);
}

const pick = <T>(xs: readonly T[], r: () => number): T => xs[Math.floor(r() * xs.length)];

function generate(e: Endpoint, r: () => number): Payload {
  const idFor = () => (e.path.includes(":token") ? shareToken : String(runId));
  const headers: Record<string, string> = e.auth ? { authorization: `Bearer ${e.auth()}` } : {};
  const json = { ...headers, "content-type": "application/json" };
  // A hostile path id: every endpoint with one, a quarter of the time (always for endpoints without a body).
  if (e.path.includes(":") && (e.body === null || r() < 0.25)) {
    const id = pick(HOSTILE_IDS, r);
    const p = e.path.replace(/:id|:token/, id);
    const body = e.body ? JSON.stringify(e.body()) : undefined;
    return { kind: "path id", method: e.method, path: p, headers: body ? json : headers, body };
  }
  const p = e.path.replace(/:id|:token/, idFor());
  if (e.body === null) {
    // Endpoints that take no body: only a body of a wrong content type is hostile without a hostile id.
    return { kind: "content type", method: e.method, path: p, headers: { ...headers, "content-type": pick(WRONG_CONTENT_TYPES, r) }, body: "a=1" };
  }
  const base = e.body();
  const leaves = leafPaths(base);
  const kind = Math.floor(r() * 12);
  switch (kind) {
    case 0: {
      const text = JSON.stringify(base);
      const cut = pick(
        [
          text.slice(0, 1 + Math.floor(r() * (text.length - 2))),
          `${text},`,
          `${text}}`,
          text.replace(/"/g, "'"),
          text.replace(/"(\w+)":/, "$1:"),
          "{",
          "[",
          '{"a":}',
          "nul",
          "\u0000",
        ],
        r,
      );
      return { kind: "malformed json", method: e.method, path: p, headers: json, body: cut };
    }
    case 1: {
      const lit = pick(["NaN", "Infinity", "-Infinity", "undefined", "0x10", "+1", ".5", "01"], r);
      return { kind: "non-json literal", method: e.method, path: p, headers: json, body: withLiteral(base, pick(leaves, r), lit) };
    }
    case 2: {
      // A number too large for any field: JSON.parse reads 1e400 as Infinity; a huge integer as an unsafe one.
      const target = pick(leaves, r);
      const v = getAt(base, target);
      const lit = typeof v === "number" ? pick(["1e400", "-1e400"], r) : pick(["1e400", "-1e400", "123456789012345678901234567890", "1e308"], r);
      return { kind: "huge number", method: e.method, path: p, headers: json, body: withLiteral(base, target, lit) };
    }
    case 3: {
      const target = pick(leaves, r);
      const copy = structuredClone(base);
      setAt(copy, target, wrongType(getAt(base, target), r));
      return { kind: "wrong type", method: e.method, path: p, headers: json, body: JSON.stringify(copy) };
    }
    case 4: {
      // Hostile unicode as an unknown property (every body object is strict) or as a key of a nested object.
      const copy = structuredClone(base) as Record<string, unknown>;
      copy[pick(HOSTILE_STRINGS, r)] = pick(HOSTILE_STRINGS, r);
      return { kind: "unicode key", method: e.method, path: p, headers: json, body: JSON.stringify(copy) };
    }
    case 5: {
      const key = pick(POLLUTION_KEYS, r);
      const inner = pick(['{"polluted":"yes"}', '{"prototype":{"polluted":"yes"}}', '"x"', "1"], r);
      const text = JSON.stringify(base);
      // at the top level, or inside the first nested object
      const nested = text.indexOf("{", 1);
      const body = r() < 0.5 || nested < 0 ? `{"${key}":${inner},${text.slice(1)}` : `${text.slice(0, nested + 1)}"${key}":${inner},${text.slice(nested + 1)}`;
      return { kind: "prototype pollution", method: e.method, path: p, headers: json, body: body.replace(",}", "}") };
    }
    case 6: {
      const depth = 65 + Math.floor(r() * 2000);
      const open = r() < 0.5 ? "[" : '{"a":';
      const close = open === "[" ? "]" : "}";
      return {
        kind: "deep nesting",
        method: e.method,
        path: p,
        headers: json,
        body: withLiteral(base, pick(leaves, r), open.repeat(depth) + "1" + close.repeat(depth)),
      };
    }
    case 7: {
      const body = pick([JSON.stringify([base]), "[]", JSON.stringify([1, 2]), '"string"', "42", "true", "null"], r);
      return { kind: "array for object", method: e.method, path: p, headers: json, body };
    }
    case 8:
      return {
        kind: "content type",
        method: e.method,
        path: p,
        headers: { ...headers, "content-type": pick(WRONG_CONTENT_TYPES, r) },
        body: JSON.stringify(base),
      };
    case 9: {
      // Rare: bodies over the limit (413), a few of them in every run.
      if (r() < 0.05) {
        const limit = e.limit ?? MAX_BODY_BYTES;
        return { kind: "oversized", method: e.method, path: p, headers: json, body: JSON.stringify({ ...base, pad: "x".repeat(limit + 16) }) };
      }
      const copy = structuredClone(base) as Record<string, unknown>;
      copy[`extra_${Math.floor(r() * 1e6)}`] = pick([1, "x", [], {}], r);
      return { kind: "unknown field", method: e.method, path: p, headers: json, body: JSON.stringify(copy) };
    }
    case 10: {
      // A required identifier or enum replaced by a hostile string: unknown ids and values are refused.
      const strings = leaves.filter((l) => typeof getAt(base, l) === "string" && IDENTIFIERS.has(String(l.at(-2) === "runtimes" ? "runtimes" : l.at(-1))));
      if (strings.length === 0) return { kind: "array for object", method: e.method, path: p, headers: json, body: "[]" };
      const copy = structuredClone(base);
      const target = pick(strings, r);
      // A logged run names its model and dataset freely (they need not be registered): only control characters,
      // unpaired surrogates and blanks are wrong there; elsewhere any unknown id or enum value is.
      const free = e.path === "/api/v1/runs" && (target[0] === "modelId" || target[0] === "datasetId");
      setAt(copy, target, pick(free ? CONTROL_STRINGS : HOSTILE_STRINGS, r));
      return { kind: "unicode value", method: e.method, path: p, headers: json, body: JSON.stringify(copy) };
    }
    default: {
      // Missing required field: an empty object for a body whose fields are all optional is valid, so drop the first key only where it is required.
      const body = e.path.endsWith("/lease") || e.method === "PATCH" ? '{"runtimes":"cpu"}' : "{}";
      return { kind: "empty object", method: e.method, path: p, headers: json, body };
    }
  }
}

function tableCounts(): Record<string, number> {
  const sqlite = api.db.$client;
  const names = (
    sqlite.prepare("SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' AND name NOT LIKE '__drizzle%'").all() as {
      name: string;
    }[]
  ).map((r) => r.name);
  return Object.fromEntries(names.map((n) => [n, (sqlite.prepare(`SELECT count(*) AS n FROM "${n}"`).get() as { n: number }).n]));
}

beforeAll(async () => {
  api = await startApiServer({ env: { FRONTIER_AUTH: "local", FRONTIER_ENROLL_TOKEN: ENROLL } });
  process.env.FRONTIER_MODEL_ROOTS = api.dir;
  modelDir = writeModelDir(api.dir, "fuzz-model-dir");
  datasetFile = path.join(api.dir, "fuzz.jsonl");
  fs.writeFileSync(datasetFile, `${JSON.stringify({ text: "hello world" })}\n`);
  const post = async (p: string, body: unknown, auth?: string) => {
    const res = await fetch(api.url + p, {
      method: "POST",
      headers: { "content-type": "application/json", ...(auth ? { authorization: `Bearer ${auth}` } : {}) },
      body: JSON.stringify(body),
    });
    expect(res.status, `${p}: ${await res.clone().text()}`).toBeLessThan(300);
    return res.json();
  };
  runId = (await post("/api/v1/runs", endpoints()[0].body!())).id;
  await post("/api/v1/models", { id: "fuzz-model", path: modelDir });
  await post("/api/v1/datasets", { id: "fuzz-data", task: "perplexity", path: datasetFile });
  shareToken = (await post("/api/v1/share", { view: { page: "runs", query: {} } })).token;
  workerToken = (await post("/api/v1/workers/register", { name: "w", capabilities: { runtimes: ["cpu"] }, hardware: { cpu: fp } }, ENROLL)).token;
});
afterAll(async () => {
  delete process.env.FRONTIER_MODEL_ROOTS;
  await api?.close();
});

describe("fuzz: hostile payloads on every write endpoint", () => {
  it(`answers ${TOTAL} hostile requests with 4xx only, writes nothing and stays healthy`, { timeout: 180_000 }, async () => {
    const before = tableCounts();
    const all = endpoints();
    const r = rng(SEED);
    const payloads: Payload[] = Array.from({ length: TOTAL }, (_, i) => generate(all[i % all.length], r));
    const statuses = new Map<string, number>();
    const bad: string[] = [];
    const badKinds = new Map<string, number>();
    let next = 0;
    const t0 = Date.now();
    async function lane() {
      for (;;) {
        const i = next++;
        if (i >= payloads.length) return;
        const p = payloads[i];
        const res = await fetch(api.url + p.path, { method: p.method, headers: p.headers, body: p.body });
        await res.arrayBuffer();
        const key = `${res.status}`;
        statuses.set(key, (statuses.get(key) ?? 0) + 1);
        if (res.status < 400 || res.status >= 500) {
          badKinds.set(`${res.status} ${p.kind} ${p.method} ${p.path}`, (badKinds.get(`${res.status} ${p.kind} ${p.method} ${p.path}`) ?? 0) + 1);
          if (bad.length < 10) bad.push(`${res.status} ${p.kind} ${p.method} ${p.path} ${JSON.stringify(p.headers)} ${(p.body ?? "").slice(0, 300)}`);
        }
      }
    }
    await Promise.all(Array.from({ length: CONCURRENCY }, lane));
    const seconds = (Date.now() - t0) / 1000;
    console.log(`fuzz: ${TOTAL} requests in ${seconds.toFixed(1)} s; statuses ${JSON.stringify(Object.fromEntries([...statuses].sort()))}`);
    expect(bad, `${JSON.stringify(Object.fromEntries(badKinds))}\n${bad.join("\n")}`).toEqual([]);
    expect(tableCounts()).toEqual(before);
    // Nothing reached Object.prototype of the process serving the requests.
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
    // Every category reached every kind of endpoint: the mix is not degenerate.
    const kinds = new Set(payloads.map((p) => p.kind));
    for (const k of [
      "malformed json",
      "non-json literal",
      "huge number",
      "wrong type",
      "unicode key",
      "prototype pollution",
      "deep nesting",
      "array for object",
      "content type",
      "oversized",
      "path id",
    ]) {
      expect(kinds, k).toContain(k);
    }
    const t = Date.now();
    const health = await fetch(`${api.url}/api/v1/health`);
    expect(health.status).toBe(200);
    expect((await health.json()).status).toBe("ok");
    expect(Date.now() - t).toBeLessThan(1000);
  });
});
