import { z } from "zod";
import { noteDbFault } from "./db-fault";
import { DomainError, zodDetails, type DomainErrorCode, type FieldIssue } from "./errors";

export { zodDetails };

/**
 * An error a route handler throws to answer a status of its own; query and domain modules throw
 * DomainError instead, which `handle` maps with STATUS_OF. A bad request body names each offending field.
 */
export class HttpError extends Error {
  constructor(
    public status: number,
    message: string,
    public details?: FieldIssue[],
  ) {
    super(message);
  }
}

export const badRequest = (message: string, details?: FieldIssue[]) => new HttpError(400, message, details);

/** The status each domain error code answers. */
export const STATUS_OF: Record<DomainErrorCode, number> = {
  invalid: 400,
  unauthorized: 401,
  not_found: 404,
  conflict: 409,
  gone: 410,
  unavailable: 503,
};

/** Parses with zod or throws a 400 naming every offending field. */
export function parseOr400<S extends z.ZodType>(schema: S, value: unknown, prefix = ""): z.infer<S> {
  const r = schema.safeParse(value);
  if (!r.success) throw badRequest("invalid request", zodDetails(r.error, prefix));
  return r.data;
}

/** The largest request body a route reads: 1 MiB; POST /runs/:id/metrics batches get MAX_BATCH_BODY_BYTES. */
export const MAX_BODY_BYTES = 1024 * 1024;
/** The largest body of a metric-points batch (10,000 points fit in well under 2 MiB). */
export const MAX_BATCH_BODY_BYTES = 2 * 1024 * 1024;
/** The deepest nesting of arrays and objects a JSON body may have. */
export const MAX_JSON_DEPTH = 64;

const tooLarge = (limit: number) =>
  new HttpError(413, `request body is larger than the limit of ${limit} bytes`, [{ field: "(body)", message: `at most ${limit} bytes` }]);

/**
 * Reads a request body as text, at most `limit` bytes: a Content-Length over the limit is refused
 * before reading, and a body that grows past it is refused (413) as soon as it does, so an
 * oversized body is never held in memory whole.
 */
export async function readBodyText(req: Request, limit = MAX_BODY_BYTES): Promise<string> {
  const declared = req.headers.get("content-length");
  if (declared !== null && /^\s*[0-9]+\s*$/.test(declared) && Number(declared) > limit) {
    await req.body?.cancel().catch(() => {});
    throw tooLarge(limit);
  }
  if (!req.body) return "";
  const reader = req.body.getReader();
  const chunks: Uint8Array[] = [];
  let total = 0;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    total += value.byteLength;
    if (total > limit) {
      await reader.cancel().catch(() => {});
      throw tooLarge(limit);
    }
    chunks.push(value);
  }
  const bytes = new Uint8Array(total);
  let at = 0;
  for (const c of chunks) {
    bytes.set(c, at);
    at += c.byteLength;
  }
  return new TextDecoder().decode(bytes);
}

/** The deepest nesting of `[`/`{` in a JSON text, counting only brackets outside strings; stops once past `max`. */
export function jsonDepth(text: string, max = Number.POSITIVE_INFINITY): number {
  let depth = 0;
  let deepest = 0;
  let inString = false;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (inString) {
      if (c === 0x5c)
        i++; // backslash: skip the escaped character
      else if (c === 0x22) inString = false;
    } else if (c === 0x22) inString = true;
    else if (c === 0x5b || c === 0x7b) {
      if (++depth > deepest) {
        deepest = depth;
        if (deepest > max) return deepest;
      }
    } else if (c === 0x5d || c === 0x7d) depth--;
  }
  return deepest;
}

/**
 * Reads a JSON body of at most `opts.limit` bytes (413 past it) nested at most MAX_JSON_DEPTH
 * deep (400 past it, checked before parsing); a body that is not JSON is a 400, not a 500.
 */
export async function readJson(req: Request, opts: { limit?: number } = {}): Promise<unknown> {
  const text = await readBodyText(req, opts.limit ?? MAX_BODY_BYTES);
  if (text.trim() === "") return {};
  if (jsonDepth(text, MAX_JSON_DEPTH) > MAX_JSON_DEPTH) {
    throw badRequest(`body is nested deeper than the limit of ${MAX_JSON_DEPTH} levels`, [
      { field: "(body)", message: `at most ${MAX_JSON_DEPTH} levels of nested arrays and objects` },
    ]);
  }
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    throw badRequest("body is not valid JSON", [{ field: "(body)", message: "invalid JSON" }]);
  }
  // Only a body that could hold one (by name or through a \u escape) is walked.
  if (RESERVED_KEY_HINT.test(text)) {
    const found = reservedKeyPath(value);
    if (found)
      throw badRequest(`body uses the reserved key "${found.key}"`, [{ field: found.path || "(body)", message: `"${found.key}" is not allowed as a key` }]);
  }
  return value;
}

/** Object keys no body may use: they name Object.prototype machinery and invite prototype pollution downstream. */
export const RESERVED_KEYS = new Set(["__proto__", "constructor", "prototype"]);
const RESERVED_KEY_HINT = /__proto__|constructor|prototype|\\u/;

/** The first reserved key in a parsed body and where it is (dotted path), or null. */
function reservedKeyPath(v: unknown, at = ""): { key: string; path: string } | null {
  if (Array.isArray(v)) {
    for (let i = 0; i < v.length; i++) {
      const f = reservedKeyPath(v[i], `${at}[${i}]`);
      if (f) return f;
    }
  } else if (v !== null && typeof v === "object") {
    for (const k of Object.keys(v)) {
      if (RESERVED_KEYS.has(k)) return { key: k, path: at ? `${at}.${k}` : k };
      const f = reservedKeyPath((v as Record<string, unknown>)[k], at ? `${at}.${k}` : k);
      if (f) return f;
    }
  }
  return null;
}

/**
 * Runs a route body and maps thrown errors to JSON responses: HttpError and DomainError to their
 * status, zod errors to 400, database faults (read-only file, full disk, busy lock) to 503 saying
 * what is wrong (busy with Retry-After), anything else to 500.
 */
export async function handle(fn: () => Promise<Response> | Response): Promise<Response> {
  try {
    return await fn();
  } catch (e) {
    if (e instanceof HttpError || e instanceof DomainError) {
      const status = e instanceof HttpError ? e.status : STATUS_OF[e.code];
      return Response.json({ error: e.message, ...(e.details ? { details: e.details } : {}) }, { status });
    }
    if (e instanceof z.ZodError) {
      return Response.json({ error: "invalid request", details: zodDetails(e) }, { status: 400 });
    }
    const fault = noteDbFault(e);
    if (fault) {
      console.error(`database unavailable (${fault.kind}):`, e);
      const headers = fault.retryAfterS ? { "Retry-After": String(fault.retryAfterS) } : undefined;
      return Response.json({ error: fault.message }, { status: 503, headers });
    }
    console.error(e);
    return Response.json({ error: "internal error" }, { status: 500 });
  }
}

/** Parses a URLSearchParams into a plain object; repeated keys become arrays. */
export function searchParamsObject(sp: URLSearchParams): Record<string, string | string[]> {
  const out: Record<string, string | string[]> = {};
  for (const [k, v] of sp) {
    const prev = out[k];
    if (prev === undefined) out[k] = v;
    else out[k] = Array.isArray(prev) ? [...prev, v] : [prev, v];
  }
  return out;
}

/** The bearer token of an `Authorization: Bearer <token>` header, or null. */
export function bearerToken(req: Request): string | null {
  const h = req.headers.get("authorization");
  const m = h ? /^Bearer\s+(\S+)\s*$/i.exec(h) : null;
  return m ? m[1] : null;
}
