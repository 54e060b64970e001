import { z } from "zod";
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

/** Reads a JSON body; a body that is not JSON is a 400, not a 500. */
export async function readJson(req: Request): Promise<unknown> {
  const text = await req.text();
  if (text.trim() === "") return {};
  try {
    return JSON.parse(text);
  } catch {
    throw badRequest("body is not valid JSON", [{ field: "(body)", message: "invalid JSON" }]);
  }
}

/** Runs a route body and maps thrown errors to JSON responses. */
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
