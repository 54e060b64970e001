/**
 * Who may write and read. In every mode a write must come from this origin (a cross-origin `Origin`
 * or `Sec-Fetch-Site: cross-site` is a 403) and carry a JSON body if any (415 otherwise): that is
 * what stops a web page in someone's browser posting to a server on their machine. With
 * FRONTIER_AUTH=token a write also needs an API token (`Authorization: Bearer`) or a signed-in
 * dashboard session (http-only cookie) whose CSRF token comes back in the X-Frontier-CSRF header;
 * with FRONTIER_READ=token so do reads. Route handlers call handleWrite / handleRead.
 */
import { findApiToken, findSession, sessionCsrfMatches, type SessionInfo } from "@/db/queries/auth";
import { lookupShareLink } from "@/db/queries/share";
import { envSetting } from "./env";
import { bearerToken, handle, HttpError } from "./http";

export const SESSION_COOKIE = "frontier_session";
export const CSRF_COOKIE = "frontier_csrf";
export const CSRF_HEADER = "x-frontier-csrf";
/** A shared view's page sends its link token in this header: it grants reads (never writes) with FRONTIER_READ=token. */
export const SHARE_HEADER = "x-frontier-share";

export type AuthMode = "local" | "token";

export function authMode(): AuthMode {
  return envSetting("FRONTIER_AUTH");
}

export function readsNeedToken(): boolean {
  return authMode() === "token" && envSetting("FRONTIER_READ") === "token";
}

/** Who made a request: nobody in particular (local mode, open reads), an API token, or a dashboard session. */
export type Principal = { kind: "anonymous" } | { kind: "token"; tokenId: string; name: string } | { kind: "session"; tokenId: string; name: string };

const forbidden = (message: string) => new HttpError(403, message);
const unauthorized = (message: string) => new HttpError(401, message);

/** The value of one cookie of a Cookie header, or null. */
export function cookieValue(req: Request, name: string): string | null {
  const header = req.headers.get("cookie");
  if (!header) return null;
  for (const part of header.split(";")) {
    const eq = part.indexOf("=");
    if (eq > 0 && part.slice(0, eq).trim() === name) return part.slice(eq + 1).trim() || null;
  }
  return null;
}

const first = (v: string | null) => v?.split(",")[0]?.trim().toLowerCase() || undefined;

/** The hosts (host[:port]) this server answers as: the request's Host and X-Forwarded-Host, and FRONTIER_PUBLIC_URL's. */
function ownHosts(req: Request): Set<string> {
  const hosts = new Set<string>();
  for (const h of [first(req.headers.get("host")), first(req.headers.get("x-forwarded-host"))]) if (h) hosts.add(h);
  const configured = envSetting("FRONTIER_PUBLIC_URL");
  if (configured) hosts.add(new URL(configured).host.toLowerCase());
  if (hosts.size === 0) hosts.add(new URL(req.url).host.toLowerCase());
  return hosts;
}

/**
 * A write from a browser must come from a page of this server: an Origin naming another host (or
 * "null", as sandboxed frames and some redirects send) is a 403, as is Sec-Fetch-Site: cross-site.
 * Requests without Origin (curl, workers, scripts) pass: they are not driven by someone else's page.
 */
export function checkOrigin(req: Request): void {
  if (first(req.headers.get("sec-fetch-site")) === "cross-site") throw forbidden("cross-site request refused (Sec-Fetch-Site: cross-site)");
  const origin = req.headers.get("origin");
  if (origin === null) return;
  let host: string;
  try {
    host = new URL(origin).host.toLowerCase();
  } catch {
    throw forbidden(`cross-origin request refused: Origin "${origin.slice(0, 100)}" is not this server`);
  }
  if (origin === "null" || !ownHosts(req).has(host)) {
    throw forbidden(`cross-origin request refused: Origin "${origin.slice(0, 100)}" is not this server`);
  }
}

/** A write's body, if it has one, must be JSON (application/json or an application/...+json type): form and text/plain bodies are a 415. */
export function checkJsonBody(req: Request): void {
  const type = req.headers.get("content-type");
  if (type === null) {
    const length = req.headers.get("content-length");
    const hasBody = (length !== null && length.trim() !== "0") || req.headers.get("transfer-encoding") !== null;
    if (hasBody) throw new HttpError(415, "request body must be JSON: send Content-Type: application/json");
    return;
  }
  const media = type.split(";")[0].trim().toLowerCase();
  if (media !== "application/json" && !/^application\/[a-z0-9.+-]+\+json$/.test(media)) {
    throw new HttpError(415, `request body must be JSON (Content-Type: application/json), not "${media.slice(0, 100)}"`);
  }
}

/** Origin and content type: every write in every mode, worker writes included. */
export function checkWriteRequest(req: Request): void {
  checkOrigin(req);
  checkJsonBody(req);
}

function bearerPrincipal(token: string): Principal {
  const row = findApiToken(token);
  if (!row) throw unauthorized("unknown or revoked API token");
  return { kind: "token", tokenId: row.id, name: row.name };
}

function sessionOf(req: Request): SessionInfo | null {
  const cookie = cookieValue(req, SESSION_COOKIE);
  return cookie ? findSession(cookie) : null;
}

const SIGN_IN = "sign in on the dashboard (/signin) or send Authorization: Bearer <API token> (npm run token -- create --name NAME)";

/**
 * Checks a write (origin, JSON body, then in token mode its credentials) and says who made it:
 * a bearer token that is not a live API token is a 401, as is no credential at all; a session
 * cookie without its CSRF token (header matching the cookie and the session) is a 403.
 */
export function authorizeWrite(req: Request): Principal {
  checkWriteRequest(req);
  if (authMode() === "local") return { kind: "anonymous" };
  const bearer = bearerToken(req);
  if (bearer !== null) return bearerPrincipal(bearer);
  if (req.headers.get("authorization") !== null) throw unauthorized("malformed Authorization header: send Authorization: Bearer <API token>");
  const cookie = cookieValue(req, SESSION_COOKIE);
  if (cookie === null) throw unauthorized(`writes need an API token: ${SIGN_IN}`);
  const session = findSession(cookie);
  if (!session) throw unauthorized(`session expired or signed out: ${SIGN_IN}`);
  const header = req.headers.get(CSRF_HEADER);
  const csrfCookie = cookieValue(req, CSRF_COOKIE);
  if (!header || header !== csrfCookie || !sessionCsrfMatches(session, header)) {
    throw forbidden(`missing or wrong CSRF token: a signed-in write must send the ${CSRF_COOKIE} cookie's value in ${CSRF_HEADER}`);
  }
  return { kind: "session", tokenId: session.apiTokenId, name: session.name };
}

/** Whether a shared link's token (SHARE_HEADER) grants this read: a live link, and never anything but GET. */
function shareGrants(req: Request): boolean {
  const token = req.headers.get(SHARE_HEADER);
  if (!token || req.method !== "GET" || token.length > 200) return false;
  return lookupShareLink(token).state === "ok";
}

/**
 * Checks a read: open unless FRONTIER_AUTH=token and FRONTIER_READ=token, when it needs an API
 * token, a signed-in session (no CSRF token: a read changes nothing) or, for the endpoints a shared
 * view draws from (`shareable`), a live share link's token.
 */
export function authorizeRead(req: Request, opts: { shareable?: boolean } = {}): Principal {
  if (!readsNeedToken()) return { kind: "anonymous" };
  const bearer = bearerToken(req);
  if (bearer !== null) return bearerPrincipal(bearer);
  const session = sessionOf(req);
  if (session) return { kind: "session", tokenId: session.apiTokenId, name: session.name };
  if (opts.shareable && shareGrants(req)) return { kind: "anonymous" };
  throw unauthorized(`reads need an API token on this server (FRONTIER_READ=token): ${SIGN_IN}`);
}

/** `handle` for a write route: authorizeWrite first, then the body. */
export function handleWrite(req: Request, fn: (who: Principal) => Promise<Response> | Response): Promise<Response> {
  return handle(() => fn(authorizeWrite(req)));
}

/** `handle` for a read route: authorizeRead first. `shareable` routes are the ones a shared view reads. */
export function handleRead(req: Request, fn: () => Promise<Response> | Response, opts: { shareable?: boolean } = {}): Promise<Response> {
  return handle(() => {
    authorizeRead(req, opts);
    return fn();
  });
}
