import http from "node:http";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { publicBaseUrl } from "@/lib/public-url";
import { type ApiServer, startApiServer } from "../helpers/api-server";

/** publicBaseUrl over an environment of just these settings. */
const base = (r: Request, env: Record<string, string>) => publicBaseUrl(r, env as NodeJS.ProcessEnv);
const req = (url: string, headers: Record<string, string> = {}) => new Request(url, { method: "POST", headers });

describe("publicBaseUrl", () => {
  it("uses the Host the request was addressed to", () => {
    expect(base(req("http://0.0.0.0:3000/api/v1/share", { host: "box.lan:3000" }), {})).toBe("http://box.lan:3000");
  });

  it("prefers a proxy's X-Forwarded-Host and X-Forwarded-Proto (first of a list)", () => {
    const r = req("http://0.0.0.0:3000/api/v1/share", {
      host: "127.0.0.1:3000",
      "x-forwarded-host": "frontier.example.org, inner.proxy",
      "x-forwarded-proto": "https,http",
    });
    expect(base(r, {})).toBe("https://frontier.example.org");
  });

  it("never hands out a wildcard bind address", () => {
    expect(base(req("http://0.0.0.0:3000/api/v1/share"), {})).toBe("http://localhost:3000");
    expect(base(req("http://0.0.0.0:3000/api/v1/share", { host: "0.0.0.0:3000" }), {})).toBe("http://localhost:3000");
    expect(base(req("http://[::]:3000/api/v1/share"), {})).toBe("http://localhost:3000");
  });

  it("ignores malformed host headers and unknown protocols", () => {
    const r = req("http://127.0.0.1:3000/api/v1/share", { "x-forwarded-host": "evil.example/path?x", "x-forwarded-proto": "javascript" });
    expect(base(r, {})).toBe("http://127.0.0.1:3000");
  });

  it("FRONTIER_PUBLIC_URL wins over every header, with its path prefix and without a trailing slash", () => {
    const r = req("http://0.0.0.0:3000/api/v1/share", { host: "box.lan:3000", "x-forwarded-host": "other.example" });
    expect(base(r, { FRONTIER_PUBLIC_URL: "https://frontier.example.org/" })).toBe("https://frontier.example.org");
    expect(base(r, { FRONTIER_PUBLIC_URL: "https://example.org/frontier/" })).toBe("https://example.org/frontier");
    expect(base(r, { FRONTIER_PUBLIC_URL: "" })).toBe("http://other.example");
  });

  it("refuses a FRONTIER_PUBLIC_URL that is not an http(s) URL", () => {
    expect(() => base(req("http://127.0.0.1:3000/"), { FRONTIER_PUBLIC_URL: "frontier.example.org" })).toThrow(/FRONTIER_PUBLIC_URL/);
    expect(() => base(req("http://127.0.0.1:3000/"), { FRONTIER_PUBLIC_URL: "ftp://frontier.example.org" })).toThrow(/FRONTIER_PUBLIC_URL/);
  });
});

describe("POST /api/v1/share over HTTP", () => {
  let server: ApiServer;
  beforeAll(async () => {
    server = await startApiServer();
  });
  afterAll(async () => {
    delete process.env.FRONTIER_PUBLIC_URL;
    await server.close();
  });

  /** node:http, since fetch may not set Host. */
  function post(headers: Record<string, string>): Promise<{ status: number; body: { token: string; url: string } }> {
    const { port } = new URL(server.url);
    const data = JSON.stringify({ view: { page: "explorer", query: { x: "decode_ms_per_token" } } });
    return new Promise((resolve, reject) => {
      const r = http.request(
        { host: "127.0.0.1", port, path: "/api/v1/share", method: "POST", headers: { "content-type": "application/json", ...headers } },
        (res) => {
          let text = "";
          res.on("data", (c) => (text += c));
          res.on("end", () => resolve({ status: res.statusCode ?? 0, body: JSON.parse(text) }));
        },
      );
      r.on("error", reject);
      r.end(data);
    });
  }

  it("answers a link on the host the request came to", async () => {
    const res = await post({ host: "box.lan:3000" });
    expect(res.status).toBe(201);
    expect(res.body.url).toBe(`http://box.lan:3000/s/${res.body.token}`);
  });

  it("answers localhost, not 0.0.0.0, for a request addressed to the wildcard bind", async () => {
    const res = await post({ host: "0.0.0.0:3000" });
    expect(res.body.url).toBe(`http://localhost:3000/s/${res.body.token}`);
  });

  it("follows a proxy's forwarded host and protocol", async () => {
    const res = await post({ host: "127.0.0.1:3000", "x-forwarded-host": "frontier.example.org", "x-forwarded-proto": "https" });
    expect(res.body.url).toBe(`https://frontier.example.org/s/${res.body.token}`);
  });

  it("uses FRONTIER_PUBLIC_URL when it is set", async () => {
    process.env.FRONTIER_PUBLIC_URL = "https://tracker.example.org";
    try {
      const res = await post({ host: "0.0.0.0:3000" });
      expect(res.body.url).toBe(`https://tracker.example.org/s/${res.body.token}`);
    } finally {
      delete process.env.FRONTIER_PUBLIC_URL;
    }
  });
});
