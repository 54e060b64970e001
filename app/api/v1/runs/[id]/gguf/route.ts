import { execFile } from "node:child_process";
import { createHash } from "node:crypto";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { Readable } from "node:stream";
import { sql } from "drizzle-orm";
import { getDb } from "@/db/client";
import { artifactFile } from "@/db/queries/runs";
import { handleRead } from "@/lib/auth";
import { notFound } from "@/lib/errors";
import { HttpError, parseOr400, searchParamsObject } from "@/lib/http";
import { IdParams } from "@/lib/schemas/common";
import { GgufQuery } from "@/lib/schemas/gguf";

export const dynamic = "force-dynamic";

/** The newest model artifact of a run, as a file on this server. */
function runModelFile(id: number): { file: string; artifactId: number } {
  const art = getDb().get<{ id: number; path: string }>(sql`SELECT id, path FROM artifacts WHERE run_id = ${id} AND kind = 'model' ORDER BY id DESC LIMIT 1`);
  if (!art) throw notFound(`a model artifact of run ${id}`);
  const file = artifactFile(art.path);
  if (!file) throw notFound(`the model of run ${id} on this server (a worker on another machine wrote it)`);
  return { file, artifactId: art.id };
}

/**
 * Runs scripts/export-gguf.ts in a child process (the ONNX reader stays out of the server bundle and
 * a long export does not block the server); resolves its JSON line and exit code.
 */
function exporter(args: string[]): Promise<{ code: number; out: Record<string, unknown> | null; stderr: string }> {
  const script = path.join(process.cwd(), "scripts", "export-gguf.ts");
  return new Promise((resolve) => {
    execFile(process.execPath, ["--import", "tsx", script, ...args], { maxBuffer: 16 * 2 ** 20 }, (err, stdout, stderr) => {
      const line = stdout.trim().split("\n").pop() ?? "";
      let out: Record<string, unknown> | null = null;
      try {
        out = JSON.parse(line) as Record<string, unknown>;
      } catch {
        out = null;
      }
      const code = err ? (typeof err.code === "number" ? err.code : 1) : 0;
      resolve({ code, out, stderr });
    });
  });
}

type Plan = { type: string; exact: boolean; reason: string | null }[];
/**
 * Which types a model file exports exactly, per file version: the run page asks on every view, and
 * each answer otherwise cost a child process reading the whole model.
 */
const plans = new Map<string, Plan>();

async function planOf(id: number, file: string): Promise<Plan> {
  const st = fs.statSync(file);
  const key = `${file}\0${st.mtimeMs}\0${st.size}`;
  const hit = plans.get(key);
  if (hit) return hit;
  const r = await exporter(["--plan", file]);
  const types = r.out?.types as Plan | undefined;
  if (r.code !== 0 || !types) throw new Error(`GGUF export plan of run ${id} failed: ${r.stderr.slice(-1000)}`);
  if (plans.size >= 256) plans.delete(plans.keys().next().value!);
  plans.set(key, types);
  return types;
}

/** Exports once per artifact version and type into the temp dir; later downloads reuse the file. */
async function cachedExport(id: number, artifactId: number, file: string, type: string): Promise<string> {
  const dir = path.join(os.tmpdir(), "frontier-gguf");
  fs.mkdirSync(dir, { recursive: true });
  const key = createHash("sha256")
    .update(`${file}\0${fs.statSync(file).mtimeMs}`)
    .digest("hex")
    .slice(0, 16);
  const out = path.join(dir, `run-${id}-artifact-${artifactId}-${key}-${type}.gguf`);
  if (fs.existsSync(out)) return out;
  const r = await exporter([file, out, type, `frontier-run-${id}`]);
  if (r.code === 2) throw new HttpError(422, `run ${id} cannot be exported as ${type.toUpperCase()}: ${String(r.out?.error)}`);
  if (r.code !== 0) throw new Error(`GGUF export of run ${id} failed: ${r.stderr.slice(-1000)}`);
  return out;
}

// GET /api/v1/runs/:id/gguf?type=f32|f16|q8_0|q4_0 — the run's model as a GGUF file for llama.cpp
// and Ollama; 422 naming the reason when that type would not be exact. Without type: which types are exact.
export function GET(req: Request, ctx: { params: Promise<{ id: string }> }) {
  return handleRead(req, async () => {
    const { id } = parseOr400(IdParams, await ctx.params);
    const { type } = parseOr400(GgufQuery, searchParamsObject(new URL(req.url).searchParams));
    const { file, artifactId } = runModelFile(id);
    if (!type) {
      const types = await planOf(id, file);
      return Response.json({ runId: id, types: types.map((t) => ({ ...t, url: t.exact ? `/api/v1/runs/${id}/gguf?type=${t.type}` : null })) });
    }
    const out = await cachedExport(id, artifactId, file, type);
    const body = Readable.toWeb(fs.createReadStream(out)) as ReadableStream<Uint8Array>;
    return new Response(body, {
      headers: {
        "content-type": "application/octet-stream",
        "content-length": String(fs.statSync(out).size),
        "content-disposition": `attachment; filename="run-${id}-${type}.gguf"`,
        "x-content-type-options": "nosniff",
      },
    });
  });
}
