import { z } from "zod";

/**
 * Errors a query module throws to say what status the route should answer; route handlers map them
 * with `handle`. A bad request body names each offending field.
 */
export class HttpError extends Error {
  constructor(
    public status: number,
    message: string,
    public details?: { field: string; message: string }[],
  ) {
    super(message);
  }
}

export const badRequest = (message: string, details?: { field: string; message: string }[]) =>
  new HttpError(400, message, details);
export const notFound = (what: string) => new HttpError(404, `${what} not found`);
export const conflict = (message: string) => new HttpError(409, message);

export function zodDetails(error: z.ZodError, prefix = ""): { field: string; message: string }[] {
  return error.issues.map((i) => ({
    field: [prefix, ...i.path.map(String)].filter(Boolean).join(".") || "(root)",
    message: i.message,
  }));
}

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
    if (e instanceof HttpError) {
      return Response.json({ error: e.message, ...(e.details ? { details: e.details } : {}) }, { status: e.status });
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
