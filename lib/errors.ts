import type { z } from "zod";

/** One offending field of a request, named by its path ("grid.bits[2]", "hardware.runtime"). */
export type FieldIssue = { field: string; message: string };

/**
 * What went wrong, in domain terms; the HTTP layer (lib/http.ts) maps each code to a status, so
 * query and domain modules never speak HTTP.
 */
export type DomainErrorCode = "invalid" | "unauthorized" | "not_found" | "conflict" | "gone" | "unavailable";

/** An error a query or domain function throws for its caller to report (the API: as a status). */
export class DomainError extends Error {
  constructor(
    public code: DomainErrorCode,
    message: string,
    public details?: FieldIssue[],
  ) {
    super(message);
  }
}

export const invalid = (message: string, details?: FieldIssue[]) => new DomainError("invalid", message, details);
export const notFound = (what: string) => new DomainError("not_found", `${what} not found`);
export const conflict = (message: string) => new DomainError("conflict", message);
export const gone = (message: string) => new DomainError("gone", message);
export const unauthorized = (message: string) => new DomainError("unauthorized", message);
export const unavailable = (message: string) => new DomainError("unavailable", message);

/** A zod error as field issues, each path prefixed (`params.bits`). */
export function zodDetails(error: z.ZodError, prefix = ""): FieldIssue[] {
  return error.issues.map((i) => ({
    field: [prefix, ...i.path.map(String)].filter(Boolean).join(".") || "(root)",
    message: i.message,
  }));
}
