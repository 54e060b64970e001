import { checkWriteRequest } from "@/lib/auth";
import { checkEnrollment, registerWorker } from "@/db/queries/workers";
import { bearerToken, handle, parseOr400, readJson } from "@/lib/http";
import { WorkerRegisterBody } from "@/lib/schemas/workers";

export const dynamic = "force-dynamic";

// POST /api/v1/workers/register — enroll a worker (enrollment token as bearer); returns its own token once
export function POST(req: Request) {
  return handle(async () => {
    checkWriteRequest(req);
    checkEnrollment(bearerToken(req));
    const body = parseOr400(WorkerRegisterBody, await readJson(req));
    return Response.json(registerWorker(body), { status: 201 });
  });
}
