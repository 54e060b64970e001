import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { openDb } from "@/db/client";
import { createShareLink, getShareLink, lookupShareLink, revokeShareLink } from "@/db/queries/share";
import { DomainError } from "@/lib/errors";
import { CreateShareRequest, ViewState } from "@/lib/schemas/share";
import { viewFromLocation, viewHref } from "@/lib/share-state";

const dir = fs.mkdtempSync(path.join(os.tmpdir(), "frontier-share-"));
const db = openDb(path.join(dir, "share.db"));
afterAll(() => {
  db.$client.close();
  fs.rmSync(dir, { recursive: true, force: true });
});

describe("share-state codec", () => {
  it("round-trips an explorer view with repeated keys and drops the page cursor", () => {
    const view = viewFromLocation("/", "?x=decode_ms_per_token&y=perplexity&family=quantization&family=pruning&cursor=abc");
    expect(view).toEqual({
      page: "explorer",
      query: { x: "decode_ms_per_token", y: "perplexity", family: ["quantization", "pruning"] },
    });
    expect(ViewState.parse(view)).toEqual(view);
    expect(viewHref(view!)).toBe("/?x=decode_ms_per_token&y=perplexity&family=quantization&family=pruning");
  });

  it("keeps metric filters whose keys carry comparison operators", () => {
    const view = viewFromLocation(
      "/runs/",
      new URLSearchParams([
        ["metric.perplexity<", "12.5"],
        ["sort", "-created"],
      ]),
    );
    expect(view).toEqual({ page: "runs", query: { "metric.perplexity<": "12.5", sort: "-created" } });
    expect(ViewState.safeParse(view).success).toBe(true);
    expect(viewHref(view!)).toBe("/runs?metric.perplexity%3C=12.5&sort=-created");
  });

  it("maps experiment pages with their id and refuses pages that are not views", () => {
    expect(viewFromLocation("/experiments/42", "")).toEqual({ page: "experiment", id: "42", query: {} });
    expect(viewHref({ page: "experiment", id: "42", query: {} })).toBe("/experiments/42");
    expect(viewFromLocation("/experiments/new", "")).toBeNull();
    expect(viewFromLocation("/runs/7", "")).toBeNull();
  });

  it("rejects malformed view states", () => {
    expect(ViewState.safeParse({ page: "admin", query: {} }).success).toBe(false);
    expect(ViewState.safeParse({ page: "runs", query: { "a b": "1" } }).success).toBe(false);
    const many = Object.fromEntries(Array.from({ length: 61 }, (_, i) => [`k${i}`, "v"]));
    expect(ViewState.safeParse({ page: "runs", query: many }).success).toBe(false);
    expect(CreateShareRequest.safeParse({ view: { page: "runs", query: {} }, expiresInDays: 0 }).success).toBe(false);
  });
});

describe("share links", () => {
  const view = { page: "explorer" as const, query: { x: "model_bytes", group: "method" } };

  it("creates unguessable base64url tokens of at least 128 bits", () => {
    const tokens = new Set(Array.from({ length: 20 }, () => createShareLink({ view }, db).token));
    expect(tokens.size).toBe(20);
    for (const t of tokens) {
      expect(t).toMatch(/^[A-Za-z0-9_-]+$/);
      expect(Buffer.from(t, "base64url").length * 8).toBeGreaterThanOrEqual(128);
    }
  });

  it("returns the stored view, then 410 after revocation", () => {
    const { token } = createShareLink({ view }, db);
    expect(getShareLink(token, db).view).toEqual(view);
    const first = revokeShareLink(token, db, 1_000);
    expect(revokeShareLink(token, db, 2_000)).toEqual(first);
    expect(lookupShareLink(token, db)).toEqual({ state: "revoked", at: 1_000 });
    try {
      getShareLink(token, db);
      expect.unreachable();
    } catch (e) {
      expect(e).toBeInstanceOf(DomainError);
      expect((e as DomainError).code).toBe("gone");
      expect((e as DomainError).message).toMatch(/revoked/);
    }
  });

  it("expires after the given number of days", () => {
    const now = Date.UTC(2026, 0, 1);
    const { token, expiresAt } = createShareLink({ view, expiresInDays: 2 }, db, now);
    expect(expiresAt).toBe(now + 2 * 86_400_000);
    expect(lookupShareLink(token, db, now + 86_400_000).state).toBe("ok");
    expect(lookupShareLink(token, db, now + 2 * 86_400_000)).toEqual({ state: "expired", at: expiresAt });
    expect(() => getShareLink(token, db, now + 3 * 86_400_000)).toThrow(/expired/);
  });

  it("answers 404 for unknown or malformed tokens", () => {
    expect(lookupShareLink("nope", db).state).toBe("missing");
    expect(lookupShareLink("A".repeat(32), db).state).toBe("missing");
    expect(() => revokeShareLink("A".repeat(32), db)).toThrow(/not found/);
  });
});
