import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { closeDb, getDb } from "@/db/client";
import { seededRng } from "@/workers/eval/dataset";

/**
 * Points FRONTIER_DB at a fresh file in a new temp dir (one per test file) and returns the dir, which
 * is also the one root models and datasets may be registered from (FRONTIER_MODEL_ROOTS).
 */
export function freshDb(): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "frontier-api-"));
  closeDb();
  process.env.FRONTIER_DB = path.join(dir, "test.db");
  process.env.FRONTIER_MODEL_ROOTS = dir;
  return dir;
}

export function cleanup(dir: string): void {
  delete process.env.FRONTIER_MODEL_ROOTS;
  closeDb();
  fs.rmSync(dir, { recursive: true, force: true });
}

type Handler = (req: Request, ctx: { params: Promise<any> }) => Response | Promise<Response>;

/** Calls a route handler with a real Request, the way Next.js does. */
export async function call(
  handler: Handler,
  method: string,
  url: string,
  opts: { body?: unknown; raw?: string; params?: Record<string, string>; headers?: Record<string, string> } = {},
): Promise<{ status: number; json: any; text: string; headers: Headers }> {
  const init: RequestInit = { method };
  if (opts.raw !== undefined) init.body = opts.raw;
  else if (opts.body !== undefined) init.body = JSON.stringify(opts.body);
  if (init.body !== undefined || opts.headers) init.headers = { ...(init.body !== undefined ? { "content-type": "application/json" } : {}), ...opts.headers };
  const res = await handler(new Request(new URL(url, "http://localhost"), init), { params: Promise.resolve(opts.params ?? {}) });
  const text = await res.text();
  let json: any = null;
  try {
    json = JSON.parse(text);
  } catch {
    json = null;
  }
  return { status: res.status, json, text, headers: res.headers };
}

/** A route call with extra request headers (an Authorization bearer). */
export const callAs = (
  handler: Handler,
  method: string,
  url: string,
  headers: Record<string, string>,
  opts: { body?: unknown; params?: Record<string, string> } = {},
) => call(handler, method, url, { ...opts, headers });

/** The fields every synthetic logged run of the API tests shares: a method from the test's list on model "m", dataset "d". */
export function loggedRun(method: { id: string; params: Record<string, unknown> }, runtime: string) {
  return { methodId: method.id, params: method.params, modelId: "m", datasetId: "d", runtime };
}

export function count(table: string): number {
  return (getDb().$client.prepare(`SELECT count(*) AS n FROM ${table}`).get() as { n: number }).n;
}

/** Row counts of every table a request could write. */
export function snapshot(): Record<string, number> {
  const out: Record<string, number> = {};
  for (const t of ["models", "datasets", "experiments", "runs", "run_metrics", "metric_points", "run_events"]) out[t] = count(t);
  return out;
}

export function fields(json: { details?: { field: string }[] }): string[] {
  return (json.details ?? []).map((d) => d.field);
}

/** A succeeded run of `family` (method baseline or `${family}.x`) on model m and dataset d, as the Pareto tests seed them. */
export const familyRun = (family: string, i: number, runtime = "cpu") => ({
  methodId: family === "baseline" ? "baseline" : `${family}.x`,
  family,
  params: { i },
  modelId: "m",
  datasetId: "d",
  runtime,
  status: "succeeded" as const,
});

/** A seeded PRNG (the harness's mulberry32) so random test data is reproducible. */
export const rng = seededRng;

/** A model directory in the optimum layout: model.onnx (ModelProto bytes) and tokenizer.json. */
export function writeModelDir(root: string, name: string, opts: { onnx?: Buffer; tokenizer?: string } = {}): string {
  const dir = path.join(root, name);
  fs.mkdirSync(dir, { recursive: true });
  // ir_version = 8 (field 1 varint), producer_name = "t" (field 2): a valid ModelProto prefix.
  fs.writeFileSync(path.join(dir, "model.onnx"), opts.onnx ?? Buffer.from([0x08, 0x08, 0x12, 0x01, 0x74]));
  fs.writeFileSync(path.join(dir, "tokenizer.json"), opts.tokenizer ?? JSON.stringify({ version: "1.0", model: { type: "BPE", vocab: {}, merges: [] } }));
  return dir;
}
