import { envSetting } from "@/lib/env";

/** A Host value: a name or IPv4 address, or a bracketed IPv6 address, with an optional port; nothing else. */
const HOST_RE = /^(?:[A-Za-z0-9](?:[A-Za-z0-9.-]*[A-Za-z0-9])?|\[[0-9A-Fa-f:.]+\])(?::\d{1,5})?$/;

/** Wildcard bind addresses are where a server listens, never an address a browser can open. */
const WILDCARD = /^(?:0\.0\.0\.0|\[::\]|\[::0?\])(?=:|$)/;

const first = (v: string | null) => v?.split(",")[0]?.trim() || undefined;

function reachable(host: string): string {
  return host.replace(WILDCARD, "localhost");
}

/**
 * The origin (and any path prefix) links handed to people are built on: FRONTIER_PUBLIC_URL when set, else the host
 * the request was addressed to (X-Forwarded-Host and X-Forwarded-Proto from a proxy in front, else Host), so a link
 * works from wherever the app was opened. A wildcard bind address (0.0.0.0, ::) is never handed out.
 */
export function publicBaseUrl(req: Request, source: NodeJS.ProcessEnv = process.env): string {
  const configured = envSetting("FRONTIER_PUBLIC_URL", source);
  if (configured) {
    const u = new URL(configured);
    return `${u.protocol}//${reachable(u.host)}${u.pathname.replace(/\/+$/, "")}`;
  }
  const fallback = new URL(req.url);
  const candidates = [first(req.headers.get("x-forwarded-host")), first(req.headers.get("host"))];
  const host = candidates.find((h) => h !== undefined && HOST_RE.test(h)) ?? fallback.host;
  const forwardedProto = first(req.headers.get("x-forwarded-proto"))?.toLowerCase();
  const proto = forwardedProto === "http" || forwardedProto === "https" ? forwardedProto : fallback.protocol.replace(/:$/, "");
  return `${proto}://${reachable(host)}`;
}
