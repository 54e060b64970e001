import { checkWriteRequest } from "@/lib/auth";
import type { z } from "zod";
import { authenticateWorker, type WorkerRow } from "@/db/queries/workers";
import { bearerToken, handle, parseOr400, readJson } from "@/lib/http";
import { IdParams } from "@/lib/schemas/common";

/** What a worker-authenticated handler returns: a Response as is, anything else as its JSON body. */
type Answer = Response | object;

const respond = (a: Answer) => (a instanceof Response ? a : Response.json(a));

/**
 * A worker-protocol route: authenticates the worker by its bearer token (401 when missing or
 * unknown), parses the JSON body with `Body` (400 naming each field), runs `fn` and maps what it
 * throws to a status like every other route (lib/http.ts `handle`).
 */
export function withWorker<S extends z.ZodType>(req: Request, Body: S, fn: (c: { worker: WorkerRow; body: z.output<S> }) => Answer): Promise<Response> {
  return handle(async () => {
    checkWriteRequest(req);
    const worker = authenticateWorker(bearerToken(req));
    const body = parseOr400(Body, await readJson(req));
    return respond(fn({ worker, body }));
  });
}

/** withWorker for a route on one run (`/runs/:id/...`): the id is checked first, then the worker. */
export function withWorkerRun<S extends z.ZodType>(
  req: Request,
  ctx: { params: Promise<{ id: string }> },
  Body: S,
  fn: (c: { id: number; worker: WorkerRow; body: z.output<S> }) => Answer,
): Promise<Response> {
  return handle(async () => {
    const { id } = parseOr400(IdParams, await ctx.params);
    return withWorker(req, Body, (c) => fn({ id, ...c }));
  });
}
