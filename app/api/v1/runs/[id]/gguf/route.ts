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
import { exportGguf, GGUF_TYPES, GgufExportError, planGguf, type GgufType } from "@/workers/export/gguf";

export const dynamic = "force-dynamic";

/** The newest model artifact of a run, as a file on this server. */
function runModelFile(id: number): { file: string; artifactId: number } {
  const art = getDb().get<{ id: number; path: string }>(sql`SELECT id, path FROM artifacts WHERE run_id = ${id} AND kind = 'model' ORDER BY id DESC LIMIT 1`);
  if (!art) throw notFound(`a model artifact of run ${id}`);
  const file = artifactFile(art.path);
  if (!file) throw notFound(`the model of run ${id} on this server (a worker on another machine wrote it)`);
  return { file, artifactId: art.id };
}

/** Exports once per artifact version and type into the temp dir; later downloads reuse the file. */
function cachedExport(id: number, artifactId: number, file: string, type: GgufType): string {
  const dir = path.join(os.tmpdir(), "frontier-gguf");
  fs.mkdirSync(dir, { recursive: true });
  const key = createHash("sha256")
    .update(`${file}\0${fs.statSync(file).mtimeMs}`)
    .digest("hex")
    .slice(0, 16);
  const out = path.join(dir, `run-${id}-artifact-${artifactId}-${key}-${type}.gguf`);
  if (!fs.existsSync(out)) exportGguf(file, out, type, { name: `frontier-run-${id}` });
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
      const types = GGUF_TYPES.map((t) => {
        try {
          planGguf(file, t);
          return { type: t, exact: true, reason: null, url: `/api/v1/runs/${id}/gguf?type=${t}` };
        } catch (e) {
          if (!(e instanceof GgufExportError)) throw e;
          return { type: t, exact: false, reason: e.message, url: null };
        }
      });
      return Response.json({ runId: id, types });
    }
    let out: string;
    try {
      out = cachedExport(id, artifactId, file, type);
    } catch (e) {
      if (e instanceof GgufExportError) throw new HttpError(422, `run ${id} cannot be exported as ${type.toUpperCase()}: ${e.message}`);
      throw e;
    }
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
