/**
 * Typed HTTP client of the worker endpoints (lib/schemas/workers.ts). Workers never touch the
 * database: everything goes through these five calls.
 */
import {
  CompleteResponse,
  FailResponse,
  HeartbeatResponse,
  LeaseResponse,
  WorkerRegisterResponse,
  type CompleteBody,
  type FailBody,
  type HeartbeatBody,
  type LeasedRun,
  type WorkerRegisterBody,
} from "../lib/schemas/workers";
import type { Runtime } from "../lib/domain";
import type { z } from "zod";

/** A non-2xx answer from the server; `status` 409 means the lease is no longer ours. */
export class ApiError extends Error {
  constructor(
    public status: number,
    message: string,
  ) {
    super(message);
  }
}

export class WorkerClient {
  constructor(
    private server: string,
    private token: string | null = null,
    private timeoutMs = 30_000,
  ) {
    this.server = server.replace(/\/+$/, "");
  }

  private async post<S extends z.ZodType>(path: string, body: unknown, schema: S | null, bearer = this.token): Promise<z.infer<S> | null> {
    const res = await fetch(this.server + path, {
      method: "POST",
      headers: { "content-type": "application/json", ...(bearer ? { authorization: `Bearer ${bearer}` } : {}) },
      body: JSON.stringify(body),
      signal: AbortSignal.timeout(this.timeoutMs),
    });
    const text = await res.text();
    if (!res.ok) {
      let message = text;
      try {
        const j = JSON.parse(text) as { error?: string; details?: { field: string; message: string }[] };
        message = [j.error, ...(j.details ?? []).map((d) => `${d.field}: ${d.message}`)].filter(Boolean).join("; ");
      } catch {}
      throw new ApiError(res.status, `POST ${path} → ${res.status}: ${message || res.statusText}`);
    }
    if (res.status === 204 || schema === null) return null;
    return schema.parse(JSON.parse(text));
  }

  /** Enrolls with the server's enrollment token; keeps the returned worker token for later calls. */
  async register(enrollToken: string, body: WorkerRegisterBody): Promise<WorkerRegisterResponse> {
    const r = (await this.post("/api/v1/workers/register", body, WorkerRegisterResponse, enrollToken))!;
    this.token = r.token;
    return r;
  }

  /** The next run to execute, or null when nothing is queued for these runtimes. */
  async lease(runtimes?: Runtime[]): Promise<LeasedRun | null> {
    const r = await this.post("/api/v1/workers/lease", runtimes ? { runtimes } : {}, LeaseResponse);
    return r?.run ?? null;
  }

  async heartbeat(runId: number, body: z.input<typeof HeartbeatBody>): Promise<HeartbeatResponse> {
    return (await this.post(`/api/v1/runs/${runId}/heartbeat`, body, HeartbeatResponse))!;
  }

  async complete(runId: number, body: z.input<typeof CompleteBody>): Promise<CompleteResponse> {
    return (await this.post(`/api/v1/runs/${runId}/complete`, body, CompleteResponse))!;
  }

  async fail(runId: number, body: FailBody): Promise<FailResponse> {
    return (await this.post(`/api/v1/runs/${runId}/fail`, body, FailResponse))!;
  }
}
