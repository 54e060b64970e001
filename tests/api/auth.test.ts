import { execFile, spawn } from "node:child_process";
import fs from "node:fs";
import path from "node:path";
import { promisify } from "node:util";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createApiToken, revokeApiToken } from "@/db/queries/auth";
import { type ApiServer, startApiServer } from "../helpers/api-server";

const exec = promisify(execFile);
const ENROLL = "auth-test-enrollment-token-0001";
const TSX = ["--import", "tsx"];

let api: ApiServer;
let token: string;
let runId: number;
let shareToken: string;

interface Opts {
  body?: unknown;
  raw?: string;
  headers?: Record<string, string>;
}

async function req(method: string, p: string, opts: Opts = {}): Promise<{ status: number; json: any; headers: Headers }> {
  const headers: Record<string, string> = { ...opts.headers };
  let body: string | undefined;
  if (opts.raw !== undefined) body = opts.raw;
  else if (opts.body !== undefined) {
    body = JSON.stringify(opts.body);
    headers["content-type"] ??= "application/json";
  }
  const res = await fetch(api.url + p, { method, headers, body });
  const text = await res.text();
  let json: any = null;
  try {
    json = JSON.parse(text);
  } catch {}
  return { status: res.status, json, headers: res.headers };
}

const bearer = (t: string) => ({ authorization: `Bearer ${t}` });
const logged = { methodId: "baseline", modelId: "m", datasetId: "d", runtime: "cpu", metrics: { accuracy: 0.5 } };
const fp = { runtime: "cpu", ortVersion: "1.30.0", cpuModel: "test CPU", cpuCores: 2, memoryBytes: 8e9, platform: "linux-x64", nodeVersion: "v20" };
const registration = { name: "w1", capabilities: { runtimes: ["cpu"] }, hardware: { cpu: fp } };

/** Every user write endpoint with a valid body, so a refusal is the credentials' doing and not the payload's. */
const writes = (): { method: string; path: string; body?: unknown }[] => [
  { method: "POST", path: "/api/v1/runs", body: logged },
  { method: "PATCH", path: `/api/v1/runs/${runId}`, body: { tags: ["x"] } },
  { method: "POST", path: `/api/v1/runs/${runId}/cancel` },
  { method: "POST", path: `/api/v1/runs/${runId}/retry` },
  { method: "POST", path: `/api/v1/runs/${runId}/metrics`, body: { points: [{ key: "loss", step: 1, value: 1 }] } },
  { method: "POST", path: "/api/v1/experiments", body: { name: "e", modelId: "m", datasetId: "d", methods: [] } },
  { method: "POST", path: "/api/v1/models", body: { id: "x", name: "x", path: "nowhere" } },
  { method: "POST", path: "/api/v1/datasets", body: { id: "x", name: "x", task: "text", path: "nowhere.jsonl" } },
  { method: "POST", path: "/api/v1/share", body: { view: { page: "runs", query: {} } } },
  { method: "DELETE", path: `/api/v1/share/${shareToken}` },
  { method: "POST", path: "/api/v1/workers/w_none/revoke" },
];

beforeAll(async () => {
  api = await startApiServer({ env: { FRONTIER_AUTH: "local", FRONTIER_READ: "open", FRONTIER_ENROLL_TOKEN: ENROLL } });
  const r = await req("POST", "/api/v1/runs", { body: logged });
  expect(r.status).toBe(201);
  runId = r.json.id;
  const s = await req("POST", "/api/v1/share", { body: { view: { page: "runs", query: {} } } });
  expect(s.status).toBe(201);
  shareToken = s.json.token;
  token = createApiToken("alice", api.db).token;
  process.env.FRONTIER_AUTH = "token";
});
afterAll(async () => {
  await api?.close();
});

describe("token mode: writes need a live API token", () => {
  it("refuses every write endpoint anonymously (401) and with a wrong token (401), and writes nothing", async () => {
    const before = api.db.$client.prepare("SELECT (SELECT count(*) FROM runs) + (SELECT count(*) FROM share_links) AS n").get();
    for (const w of writes()) {
      const anon = await req(w.method, w.path, { body: w.body });
      expect(anon.status, `${w.method} ${w.path} anonymous`).toBe(401);
      expect(anon.json.error).toMatch(/API token/);
      const wrong = await req(w.method, w.path, { body: w.body, headers: bearer("ft_not-a-real-token") });
      expect(wrong.status, `${w.method} ${w.path} wrong token`).toBe(401);
      const malformed = await req(w.method, w.path, { body: w.body, headers: { authorization: "Basic abc" } });
      expect(malformed.status, `${w.method} ${w.path} basic auth`).toBe(401);
    }
    expect(api.db.$client.prepare("SELECT (SELECT count(*) FROM runs) + (SELECT count(*) FROM share_links) AS n").get()).toEqual(before);
  });

  it("accepts a live token on every write endpoint (what follows is the payload's answer, never 401/403)", async () => {
    for (const w of writes()) {
      const r = await req(w.method, w.path, { body: w.body, headers: bearer(token) });
      expect([401, 403, 415], `${w.method} ${w.path}: ${JSON.stringify(r.json)}`).not.toContain(r.status);
      expect(r.status).toBeLessThan(500);
    }
    const ok = await req("POST", "/api/v1/runs", { body: logged, headers: bearer(token) });
    expect(ok.status).toBe(201);
  });

  it("refuses a revoked token", async () => {
    const t = createApiToken("bob", api.db).token;
    expect((await req("POST", "/api/v1/runs", { body: logged, headers: bearer(t) })).status).toBe(201);
    revokeApiToken("bob", api.db);
    const r = await req("POST", "/api/v1/runs", { body: logged, headers: bearer(t) });
    expect(r.status).toBe(401);
    expect(r.json.error).toMatch(/revoked/);
  });

  it("keeps reads open with FRONTIER_READ=open and requires a token with FRONTIER_READ=token, except a share link's view", async () => {
    expect((await req("GET", "/api/v1/runs")).status).toBe(200);
    process.env.FRONTIER_READ = "token";
    try {
      for (const p of [
        "/api/v1/runs",
        `/api/v1/runs/${runId}`,
        "/api/v1/pareto?x=accuracy&y=accuracy",
        "/api/v1/contexts",
        "/api/v1/experiments",
        "/api/v1/workers",
        "/api/v1/export",
      ]) {
        expect((await req("GET", p)).status, p).toBe(401);
      }
      expect((await req("GET", "/api/v1/runs", { headers: bearer(token) })).status).toBe(200);
      expect((await req("GET", "/api/v1/runs", { headers: bearer("ft_wrong") })).status).toBe(401);
      const live = await req("POST", "/api/v1/share", { body: { view: { page: "runs", query: {} } }, headers: bearer(token) });
      expect(live.status).toBe(201);
      expect((await req("GET", `/api/v1/share/${live.json.token}`)).status).toBe(200);
      expect((await req("GET", "/api/v1/runs", { headers: { "x-frontier-share": live.json.token } })).status).toBe(200);
      // a share link reads, never writes; a revoked link reads nothing; health stays open
      expect((await req("POST", "/api/v1/runs", { body: logged, headers: { "x-frontier-share": live.json.token } })).status).toBe(401);
      expect((await req("GET", "/api/v1/workers", { headers: { "x-frontier-share": live.json.token } })).status).toBe(401);
      expect((await req("DELETE", `/api/v1/share/${live.json.token}`, { headers: bearer(token) })).status).toBe(200);
      expect((await req("GET", "/api/v1/runs", { headers: { "x-frontier-share": live.json.token } })).status).toBe(401);
      expect((await req("GET", "/api/v1/health")).status).toBe(200);
    } finally {
      process.env.FRONTIER_READ = "open";
    }
  });
});

describe("dashboard sign-in", () => {
  it("sets an http-only SameSite=Strict session cookie; a cookie write needs the CSRF header; sign-out ends the session", async () => {
    expect((await req("GET", "/api/v1/session")).json).toMatchObject({ mode: "token", signedIn: false });
    expect((await req("POST", "/api/v1/session", { body: { token: "ft_wrong" } })).status).toBe(401);
    const s = await req("POST", "/api/v1/session", { body: { token } });
    expect(s.status).toBe(201);
    const setCookies = s.headers.getSetCookie();
    const session = setCookies.find((c) => c.startsWith("frontier_session="))!;
    const csrfCookie = setCookies.find((c) => c.startsWith("frontier_csrf="))!;
    expect(session).toMatch(/HttpOnly/);
    expect(session).toMatch(/SameSite=Strict/);
    expect(csrfCookie).not.toMatch(/HttpOnly/);
    const sessionValue = session.split(";")[0].split("=")[1];
    const csrf = s.json.csrf as string;
    expect(csrfCookie.split(";")[0].split("=")[1]).toBe(csrf);
    // the session secret is stored hashed
    const stored = api.db.$client.prepare("SELECT token_hash FROM sessions").all() as { token_hash: string }[];
    expect(stored.map((r) => r.token_hash)).not.toContain(sessionValue);

    const cookie = `frontier_session=${sessionValue}; frontier_csrf=${csrf}`;
    expect((await req("GET", "/api/v1/session", { headers: { cookie } })).json).toMatchObject({ signedIn: true, name: "alice" });
    const noCsrf = await req("POST", "/api/v1/runs", { body: logged, headers: { cookie } });
    expect(noCsrf.status).toBe(403);
    expect(noCsrf.json.error).toMatch(/CSRF/);
    const wrongCsrf = await req("POST", "/api/v1/runs", {
      body: logged,
      headers: { cookie: `frontier_session=${sessionValue}; frontier_csrf=x`, "x-frontier-csrf": "x" },
    });
    expect(wrongCsrf.status).toBe(403);
    const ok = await req("POST", "/api/v1/runs", { body: logged, headers: { cookie, "x-frontier-csrf": csrf, origin: api.url } });
    expect(ok.status).toBe(201);
    const crossOrigin = await req("POST", "/api/v1/runs", { body: logged, headers: { cookie, "x-frontier-csrf": csrf, origin: "https://evil.example" } });
    expect(crossOrigin.status).toBe(403);

    const out = await req("DELETE", "/api/v1/session", { headers: { cookie } });
    expect(out.status).toBe(200);
    expect(out.headers.getSetCookie().every((c) => /Max-Age=0/.test(c))).toBe(true);
    expect((await req("POST", "/api/v1/runs", { body: logged, headers: { cookie, "x-frontier-csrf": csrf } })).status).toBe(401);
  });
});

describe("origin and content type, in both modes", () => {
  for (const mode of ["local", "token"] as const) {
    it(`${mode} mode: a cross-origin write is 403 and a text/plain or form body 415`, async () => {
      process.env.FRONTIER_AUTH = mode;
      try {
        const auth = mode === "token" ? bearer(token) : {};
        for (const w of writes()) {
          const body = JSON.stringify(w.body ?? {});
          const cross = await req(w.method, w.path, { body: w.body ?? {}, headers: { ...auth, origin: "http://evil.example" } });
          expect(cross.status, `${w.method} ${w.path} cross-origin`).toBe(403);
          const nullOrigin = await req(w.method, w.path, { body: w.body ?? {}, headers: { ...auth, origin: "null" } });
          expect(nullOrigin.status).toBe(403);
          const site = await req(w.method, w.path, { body: w.body ?? {}, headers: { ...auth, "sec-fetch-site": "cross-site" } });
          expect(site.status).toBe(403);
          const text = await req(w.method, w.path, { raw: body, headers: { ...auth, "content-type": "text/plain;charset=UTF-8" } });
          expect(text.status, `${w.method} ${w.path} text/plain`).toBe(415);
          const form = await req(w.method, w.path, { raw: "a=1", headers: { ...auth, "content-type": "application/x-www-form-urlencoded" } });
          expect(form.status).toBe(415);
        }
        // the worker protocol too
        expect(
          (await req("POST", "/api/v1/workers/register", { body: registration, headers: { ...bearer(ENROLL), origin: "http://evil.example" } })).status,
        ).toBe(403);
        expect((await req("POST", "/api/v1/workers/lease", { raw: "{}", headers: { "content-type": "text/plain" } })).status).toBe(415);
        // same origin passes the check
        const same = await req("POST", "/api/v1/runs", { body: logged, headers: { ...auth, origin: api.url } });
        expect(same.status).toBe(201);
      } finally {
        process.env.FRONTIER_AUTH = "token";
      }
    });
  }
});

describe("worker tokens", () => {
  const register = async () => {
    const r = await req("POST", "/api/v1/workers/register", { body: registration, headers: bearer(ENROLL) });
    expect(r.status).toBe(201);
    return r.json as { workerId: string; token: string };
  };
  const lease = (t: string) => req("POST", "/api/v1/workers/lease", { body: {}, headers: bearer(t) });

  it("a revoked worker is refused with 401; worker tokens are no API tokens", async () => {
    const w = await register();
    expect((await lease(w.token)).status).toBe(204);
    expect((await req("POST", "/api/v1/runs", { body: logged, headers: bearer(w.token) })).status).toBe(401);
    const list = await req("GET", "/api/v1/workers");
    expect(list.json.workers.find((x: { id: string }) => x.id === w.workerId).status).toBe("active");
    expect((await req("POST", `/api/v1/workers/${w.workerId}/revoke`, { headers: bearer(token) })).status).toBe(200);
    const r = await lease(w.token);
    expect(r.status).toBe(401);
    expect(r.json.error).toMatch(/revoked/);
  });

  it("rotating the enrollment token invalidates the tokens it issued, with a message to re-enroll", async () => {
    const w = await register();
    expect((await lease(w.token)).status).toBe(204);
    process.env.FRONTIER_ENROLL_TOKEN = "auth-test-enrollment-token-0002";
    try {
      const r = await lease(w.token);
      expect(r.status).toBe(401);
      expect(r.json.error).toMatch(/rotated.*re-enroll/);
      expect((await req("POST", "/api/v1/workers/register", { body: registration, headers: bearer(ENROLL) })).status).toBe(401);
      const again = await req("POST", "/api/v1/workers/register", { body: registration, headers: bearer("auth-test-enrollment-token-0002") });
      expect(again.status).toBe(201);
      expect((await lease(again.json.token)).status).toBe(204);
    } finally {
      process.env.FRONTIER_ENROLL_TOKEN = ENROLL;
    }
  });

  it("the worker refuses --token on its command line", async () => {
    const r = await exec(process.execPath, [...TSX, "workers/main.ts", "--server", api.url, "--token=abcdefabcdefabcdef"]).catch((e) => e);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/--token is no longer accepted.*FRONTIER_ENROLL_TOKEN/);
  });
});

describe("npm run token", () => {
  const cli = (...args: string[]): Promise<{ code?: number; stdout: string; stderr: string }> =>
    exec(process.execPath, [...TSX, "scripts/token.ts", ...args], { env: { ...process.env, FRONTIER_DB: api.dbFile } }).catch(
      (e) => e as { code: number; stdout: string; stderr: string },
    );

  it("creates a token shown once, lists it without the secret, revokes it by name; the server honours each step", async () => {
    const created = await cli("create", "--name", "carol");
    const secret = /^(ft_\S+)$/m.exec(created.stdout)?.[1];
    expect(secret).toBeDefined();
    expect((await req("POST", "/api/v1/runs", { body: logged, headers: bearer(secret!) })).status).toBe(201);
    expect((await cli("create", "--name", "carol")).stderr).toMatch(/exists/);
    expect((await cli("revoke", "carol")).stdout).toMatch(/revoked/);
    expect((await req("POST", "/api/v1/runs", { body: logged, headers: bearer(secret!) })).status).toBe(401);
    // listed with its revocation time (the last column), never with the secret
    const list = await cli("list");
    expect(list.stdout).toMatch(/carol.*\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\s*$/m);
    expect(list.stdout).not.toContain(secret!);
    const bad = await cli("revoke", "nobody");
    expect(bad.code).toBe(1);
    expect(bad.stderr).toMatch(/not found/);
  });

  it("rotate-enroll rewrites the enrollment token file the server reads: old worker tokens are refused, the new token enrolls", async () => {
    const file = path.join(api.dir, "enroll-token");
    fs.writeFileSync(file, "file-enrollment-token-000000001\n", { mode: 0o600 });
    process.env.FRONTIER_ENROLL_TOKEN = "";
    process.env.FRONTIER_ENROLL_TOKEN_FILE = file;
    try {
      const w = (await req("POST", "/api/v1/workers/register", { body: registration, headers: bearer("file-enrollment-token-000000001") })).json;
      expect((await req("POST", "/api/v1/workers/lease", { body: {}, headers: bearer(w.token) })).status).toBe(204);
      const out = await exec(process.execPath, [...TSX, "scripts/token.ts", "rotate-enroll"], { env: { ...process.env, FRONTIER_DB: api.dbFile } });
      expect(out.stdout).toMatch(/new enrollment token/);
      const rotated = fs.readFileSync(file, "utf8").trim();
      expect(rotated).not.toBe("file-enrollment-token-000000001");
      expect(fs.statSync(file).mode & 0o777).toBe(0o600);
      const refused = await req("POST", "/api/v1/workers/lease", { body: {}, headers: bearer(w.token) });
      expect(refused.status).toBe(401);
      expect(refused.json.error).toMatch(/re-enroll/);
      expect((await req("POST", "/api/v1/workers/register", { body: registration, headers: bearer(rotated) })).status).toBe(201);
    } finally {
      process.env.FRONTIER_ENROLL_TOKEN = ENROLL;
      delete process.env.FRONTIER_ENROLL_TOKEN_FILE;
    }
  });

  it("lists workers and revokes one", async () => {
    const w = (await req("POST", "/api/v1/workers/register", { body: { ...registration, name: "cli-w" }, headers: bearer(ENROLL) })).json;
    expect((await cli("workers")).stdout).toMatch(new RegExp(`${w.workerId}\\s+cli-w\\s+active`));
    expect((await cli("revoke-worker", w.workerId)).stdout).toMatch(/revoked/);
    expect((await req("POST", "/api/v1/workers/lease", { body: {}, headers: bearer(w.token) })).status).toBe(401);
    const listed = (await req("GET", "/api/v1/workers")).json.workers as { id: string; status: string }[];
    expect(listed.find((x) => x.id === w.workerId)?.status).toBe("revoked");
  });
});

describe("npm start", () => {
  it("refuses a non-loopback bind without FRONTIER_AUTH=token, before touching the database", async () => {
    const dir = fs.mkdtempSync(path.join(api.dir, "start-"));
    const env = { ...process.env, HOST: "0.0.0.0", FRONTIER_AUTH: "", FRONTIER_DB: path.join(dir, "f.db"), FRONTIER_DATA_DIR: dir };
    const child = spawn(process.execPath, [...TSX, "scripts/start.ts"], { env, stdio: ["ignore", "pipe", "pipe"] });
    let err = "";
    child.stderr.on("data", (d) => (err += d));
    const code = await new Promise<number | null>((resolve) => child.on("exit", resolve));
    expect(code).toBe(1);
    expect(err).toMatch(/refusing to start: HOST=0\.0\.0\.0 .*FRONTIER_AUTH=token/);
    expect(fs.existsSync(path.join(dir, "f.db"))).toBe(false);
  });
});
