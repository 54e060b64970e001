import fs from "node:fs";
import path from "node:path";
import { Readable } from "node:stream";
import { z } from "zod";
import { artifactFile, getArtifact } from "@/db/queries/runs";
import { handleRead } from "@/lib/auth";
import { notFound } from "@/lib/errors";
import { parseOr400 } from "@/lib/http";

export const dynamic = "force-dynamic";

const Params = z.object({
  id: z
    .string()
    .regex(/^[1-9][0-9]{0,14}$/, "must be a run id")
    .transform(Number),
  artifactId: z
    .string()
    .regex(/^[1-9][0-9]{0,14}$/, "must be an artifact id")
    .transform(Number),
});

// GET /api/v1/runs/:id/artifacts/:artifactId — download one of a run's files (its quantized or
// pruned model), streamed; 404 when the file is not on this server (a remote worker wrote it).
export function GET(req: Request, ctx: { params: Promise<{ id: string; artifactId: string }> }) {
  return handleRead(req, async () => {
    const { id, artifactId } = parseOr400(Params, await ctx.params);
    const art = getArtifact(id, artifactId);
    if (!art) throw notFound(`artifact ${artifactId} of run ${id}`);
    const file = artifactFile(art.path);
    if (!file) throw notFound(`the file of artifact ${artifactId} on this server (a worker on another machine wrote it)`);
    const size = fs.statSync(file).size;
    const name = path.basename(art.path).replace(/[^A-Za-z0-9._-]/g, "_");
    const body = Readable.toWeb(fs.createReadStream(file)) as ReadableStream<Uint8Array>;
    return new Response(body, {
      headers: {
        "content-type": "application/octet-stream",
        "content-length": String(size),
        "content-disposition": `attachment; filename="run-${id}-${name}"`,
        "x-content-type-options": "nosniff",
      },
    });
  });
}
