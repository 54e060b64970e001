import { describe, expect, it } from "vitest";
import nextConfig from "@/next.config";

/** The headers next.config.ts sets on a path, as Next matches `source` patterns (every rule here is `/:path*`). */
async function headersFor(): Promise<Record<string, string>> {
  const rules = (await nextConfig.headers?.()) ?? [];
  expect(rules.map((r) => r.source)).toEqual(["/:path*"]);
  return Object.fromEntries(rules[0].headers.map((h) => [h.key.toLowerCase(), h.value]));
}

describe("security headers (next.config.ts)", () => {
  it("forbid framing, sniffing and referrers on every page and API response", async () => {
    const h = await headersFor();
    expect(h["x-frame-options"]).toBe("DENY");
    expect(h["x-content-type-options"]).toBe("nosniff");
    expect(h["referrer-policy"]).toBe("no-referrer");
    expect(nextConfig.poweredByHeader).toBe(false);
  });

  it("set a Content-Security-Policy that keeps scripts, connections and frames to this origin", async () => {
    const csp = new Map(
      (await headersFor())["content-security-policy"].split(";").map((d) => {
        const [name, ...values] = d.trim().split(/\s+/);
        return [name, values] as const;
      }),
    );
    expect(csp.get("default-src")).toEqual(["'self'"]);
    expect(csp.get("script-src")?.[0]).toBe("'self'");
    // Next's App Router streams its payload in inline scripts; nothing else outside this origin runs.
    expect(csp.get("script-src")?.filter((s) => s.startsWith("http") || s === "*")).toEqual([]);
    expect(csp.get("frame-ancestors")).toEqual(["'none'"]);
    expect(csp.get("object-src")).toEqual(["'none'"]);
    expect(csp.get("base-uri")).toEqual(["'self'"]);
    expect(csp.get("connect-src")?.[0]).toBe("'self'");
  });
});
