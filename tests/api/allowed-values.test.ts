import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { z } from "zod";
import { POST as postRun } from "@/app/api/v1/runs/route";
import { zodDetails } from "@/lib/errors";
import { call, cleanup, freshDb, loggedRun } from "./helpers";

let dir: string;
beforeAll(() => {
  dir = freshDb();
});
afterAll(() => cleanup(dir));

describe("a bad union, enum or literal value names the allowed values", () => {
  it("POST /api/v1/runs with quant.rtn bits 99 answers 400 naming 2, 3, 4, 8", async () => {
    const res = await call(postRun, "POST", "/api/v1/runs", {
      body: { ...loggedRun({ id: "quant.rtn", params: { bits: 99, format: "int3" } }, "cpu"), metrics: { perplexity: 10 } },
    });
    expect(res.status).toBe(400);
    const details = res.json.details as { field: string; message: string }[];
    expect(details).toContainEqual({ field: "params.bits", message: "must be one of 2, 3, 4, 8" });
    expect(details).toContainEqual({ field: "params.format", message: 'must be one of "auto", "matmulnbits", "qdq"' });
  });

  it("unions of types, single literals and custom messages", () => {
    const schema = z.strictObject({
      u: z.union([z.string(), z.number()]),
      l: z.literal("x"),
      custom: z.enum(["a", "b"], { error: "pick a or b" }),
      obj: z.union([z.strictObject({ a: z.number() }), z.strictObject({ b: z.number() })]),
    });
    const r = schema.safeParse({ u: true, l: "y", custom: "c", obj: { a: "no" } });
    expect(r.success).toBe(false);
    const byField = Object.fromEntries(zodDetails(r.error as z.ZodError, "p").map((d) => [d.field, d.message]));
    expect(byField["p.u"]).toBe("must be one of a string, a number");
    expect(byField["p.l"]).toBe('must be "x"');
    expect(byField["p.custom"]).toBe("pick a or b");
    // A union of objects failing inside a branch keeps zod's message rather than a misleading list.
    expect(byField["p.obj"]).toMatch(/Invalid/);
  });
});
