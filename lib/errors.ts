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
    message: issueMessage(i),
  }));
}

/** One allowed value as a reader would type it: numbers and booleans bare, strings quoted. */
const showValue = (v: unknown): string => (typeof v === "string" ? JSON.stringify(v) : String(v));

/**
 * What a union's branches accept, when every branch failed at the value itself: the literal values and
 * the types they expected ("2", "\"auto\"", "a string"). Null when a branch failed deeper inside
 * (an object branch), where a list of alternatives would not say what to fix.
 */
function unionAlternatives(issue: z.core.$ZodIssueInvalidUnion): string[] | null {
  const out: string[] = [];
  for (const branch of issue.errors) {
    if (branch.length === 0) return null;
    for (const b of branch) {
      if (b.path.length > 0) return null;
      if (b.code === "invalid_value") out.push(...b.values.map(showValue));
      else if (b.code === "invalid_type") out.push(`a${/^[aeiou]/.test(b.expected) ? "n" : ""} ${b.expected}`);
      else if (b.code === "invalid_union") {
        const inner = unionAlternatives(b);
        if (!inner) return null;
        out.push(...inner);
      } else return null;
    }
  }
  return out.length > 0 ? [...new Set(out)] : null;
}

/**
 * zod's message, except where zod says only "Invalid input"/"Invalid option" for a union, enum or literal:
 * then the allowed values, e.g. `must be one of 2, 3, 4, 8`. A schema's own custom message is kept.
 */
export function issueMessage(issue: z.core.$ZodIssue): string {
  const generic = /^Invalid (input|option)/.test(issue.message);
  if (!generic) return issue.message;
  if (issue.code === "invalid_value") {
    const values = issue.values.map(showValue);
    return values.length === 1 ? `must be ${values[0]}` : `must be one of ${values.join(", ")}`;
  }
  if (issue.code === "invalid_union") {
    const alts = unionAlternatives(issue);
    if (alts) return alts.length === 1 ? `must be ${alts[0]}` : `must be one of ${alts.join(", ")}`;
  }
  return issue.message;
}
