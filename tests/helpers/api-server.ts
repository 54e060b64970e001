/**
 * A small node:http server that dispatches /api/** requests to the real Next.js route handler
 * modules (app/api/**\/route.ts) over a fresh SQLite file, so worker processes and tests talk real
 * HTTP to the real handlers without a `next build`. Routes are discovered from the file tree, so
 * every handler present in the checkout is served.
 */
import http from "node:http";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import type { AddressInfo } from "node:net";
import { NextRequest } from "next/server";
import { closeDb, getDb, type Db } from "../../db/client";

type Handler = (req: Request, ctx: { params: Promise<Record<string, string | string[]>> }) => Response | Promise<Response>;

interface Route {
  file: string;
  segments: string[];
  /** Static routes win over dynamic ones, as in Next. */
  dynamicCount: number;
}

const ROOT = process.cwd();

function discoverRoutes(dir = path.join(ROOT, "app", "api"), prefix: string[] = ["api"]): Route[] {
  const out: Route[] = [];
  if (!fs.existsSync(dir)) return out;
  for (const e of fs.readdirSync(dir, { withFileTypes: true })) {
    if (e.isDirectory()) out.push(...discoverRoutes(path.join(dir, e.name), [...prefix, e.name]));
    else if (e.name === "route.ts") {
      out.push({ file: path.join(dir, e.name), segments: prefix, dynamicCount: prefix.filter((s) => s.startsWith("[")).length });
    }
  }
  return out.sort((a, b) => a.dynamicCount - b.dynamicCount);
}

function match(route: Route, parts: string[]): Record<string, string | string[]> | null {
  const params: Record<string, string | string[]> = {};
  for (let i = 0; i < route.segments.length; i++) {
    const seg = route.segments[i];
    const catchAll = /^\[\.\.\.(.+)\]$/.exec(seg);
    if (catchAll) {
      if (i >= parts.length) return null;
      params[catchAll[1]] = parts.slice(i);
      return params;
    }
    if (i >= parts.length) return null;
    const dyn = /^\[(.+)\]$/.exec(seg);
    if (dyn) params[dyn[1]] = decodeURIComponent(parts[i]);
    else if (seg !== parts[i]) return null;
  }
  return route.segments.length === parts.length ? params : null;
}

export interface ApiServer {
  url: string;
  dbFile: string;
  dir: string;
  db: Db;
  close(): Promise<void>;
}

/**
 * Starts the server on 127.0.0.1 with a fresh database in a temp dir (removed on close unless the
 * caller passed `dir`). `env` is applied to this process (route handlers read FRONTIER_* settings
 * from process.env) and restored on close.
 */
export async function startApiServer(opts: { env?: Record<string, string>; dir?: string } = {}): Promise<ApiServer> {
  const dir = opts.dir ?? fs.mkdtempSync(path.join(os.tmpdir(), "frontier-api-"));
  const dbFile = path.join(dir, "frontier.db");
  const saved: Record<string, string | undefined> = {};
  const env = { FRONTIER_DB: dbFile, FRONTIER_DATA_DIR: dir, ...opts.env };
  for (const [k, v] of Object.entries(env)) {
    saved[k] = process.env[k];
    process.env[k] = v;
  }
  closeDb();
  const db = getDb();
  const routes = discoverRoutes();
  const modules = new Map<string, Promise<Record<string, unknown>>>();
  const load = (file: string) => {
    let m = modules.get(file);
    if (!m) {
      m = import(file) as Promise<Record<string, unknown>>;
      modules.set(file, m);
    }
    return m;
  };

  const server = http.createServer(async (req, res) => {
    try {
      const url = new URL(req.url ?? "/", `http://${req.headers.host ?? "127.0.0.1"}`);
      const parts = url.pathname.split("/").filter(Boolean);
      // A path that does not percent-decode (a lone surrogate's bytes, "%E0%A4%A"): Next.js answers 400 before any route.
      try {
        for (const p of parts) decodeURIComponent(p);
      } catch {
        res.writeHead(400, { "content-type": "application/json" }).end(JSON.stringify({ error: "malformed percent-encoding in the path" }));
        return;
      }
      let found: { route: Route; params: Record<string, string | string[]> } | null = null;
      for (const route of routes) {
        const params = match(route, parts);
        if (params) {
          found = { route, params };
          break;
        }
      }
      if (!found) {
        res.writeHead(404, { "content-type": "application/json" }).end(JSON.stringify({ error: `no route for ${url.pathname}` }));
        return;
      }
      const mod = await load(found.route.file);
      const handler = mod[req.method ?? "GET"] as Handler | undefined;
      if (typeof handler !== "function") {
        res.writeHead(405, { "content-type": "application/json" }).end(JSON.stringify({ error: `${req.method} not allowed` }));
        return;
      }
      const chunks: Buffer[] = [];
      for await (const c of req) chunks.push(c as Buffer);
      const body = chunks.length > 0 && req.method !== "GET" && req.method !== "HEAD" ? Buffer.concat(chunks) : undefined;
      const headers = new Headers();
      for (const [k, v] of Object.entries(req.headers)) {
        if (typeof v === "string") headers.set(k, v);
        else if (Array.isArray(v)) for (const x of v) headers.append(k, x);
      }
      const request = new NextRequest(url, { method: req.method, headers, body });
      const response = await handler(request, { params: Promise.resolve(found.params) });
      const outHeaders: Record<string, string | string[]> = {};
      response.headers.forEach((v, k) => (outHeaders[k] = v));
      // Several Set-Cookie headers stay several (forEach would keep only the last).
      const cookies = response.headers.getSetCookie();
      if (cookies.length > 0) outHeaders["set-cookie"] = cookies;
      res.writeHead(response.status, outHeaders);
      res.end(Buffer.from(await response.arrayBuffer()));
    } catch (e) {
      res.writeHead(500, { "content-type": "application/json" }).end(JSON.stringify({ error: (e as Error).message }));
    }
  });
  // Worker long-polls are short, but keep-alive sockets must not hold close() open.
  server.keepAliveTimeout = 1000;
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as AddressInfo;

  return {
    url: `http://127.0.0.1:${port}`,
    dbFile,
    dir,
    db,
    async close() {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
      closeDb();
      for (const [k, v] of Object.entries(saved)) {
        if (v === undefined) delete process.env[k];
        else process.env[k] = v;
      }
      // A temp dir this server created (database, models, worker data) goes with it.
      if (!opts.dir) fs.rmSync(dir, { recursive: true, force: true });
    },
  };
}
