/**
 * Who may write and read. In every mode a write must come from this origin (a cross-origin `Origin`
 * or `Sec-Fetch-Site: cross-site` is a 403) and carry a JSON body if any (415 otherwise): that is
 * what stops a web page in someone's browser posting to a server on their machine. With
 * FRONTIER_AUTH=token a write also needs an API token (`Authorization: Bearer`) or a signed-in
 * dashboard session (http-only cookie) whose CSRF token comes back in the X-Frontier-CSRF header;
 * with FRONTIER_READ=token so do reads. Route handlers call handleWrite / handleRead.
 */
import { findApiToken, findSession, sessionCsrfMatches, type SessionInfo } from "@/db/queries/auth";
import { lookupShareLink, runWithinShare } from "@/db/queries/share";
import { envSetting } from "./env";
import { bearerToken, handle, HttpError, parseOr400 } from "./http";
import { IdParams } from "./schemas/common";
import { filterOutside, requestFilter, shareScope } from "./share-scope";

export const SESSION_COOKIE = "frontier_session";
export const CSRF_COOKIE = "frontier_csrf";
export const CSRF_HEADER = "x-frontier-csrf";
/** A shared view's page sends its link token in this header: with FRONTIER_READ=token it grants the reads of that view (never writes). */
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

/**
 * What a read route reads, for the check of a share link's token: "registry" (models, datasets,
 * methods: the labels every shared page draws), "runs" (a list under the query's run filter: runs,
 * fronts, contexts), or one run (its details or series) or one experiment, by its path id.
 */
export type ShareRead = "registry" | "runs" | { run: Promise<{ id: string }> } | { experiment: Promise<{ id: string }> };

const READS_NEED_TOKEN = `reads need an API token on this server (FRONTIER_READ=token): ${SIGN_IN}`;

/**
 * Why a share link's token (SHARE_HEADER) does not grant this read, or null when it does: a live
 * link, a GET, and a read within the link's view (lib/share-scope): a list whose run filter keeps
 * every filter of the view, a run the view shows, the view's own experiment, or the registries.
 * At most one indexed query besides the token's lookup.
 */
async function shareRefusal(req: Request, read: ShareRead): Promise<string | null> {
  const token = req.headers.get(SHARE_HEADER);
  if (!token || req.method !== "GET") return READS_NEED_TOKEN;
  const found = token.length > 200 ? ({ state: "missing" } as const) : lookupShareLink(token);
  if (found.state !== "ok") {
    const why = found.state === "missing" ? "no share link has this token" : `this share link is ${found.state}`;
    return `${why}; ${READS_NEED_TOKEN}`;
  }
  if (read === "registry") return null;
  const scope = shareScope(found.link.view);
  const outside = (why: string) => `outside the shared view: ${why}; ${READS_NEED_TOKEN}`;
  if (scope.kind === "none") return outside(scope.reason);
  if (read === "runs") {
    if (scope.kind === "ids") return outside("a shared comparison reads its runs by id, never a list");
    const why = filterOutside(requestFilter(new URL(req.url).searchParams), scope.filter);
    return why === null ? null : outside(why);
  }
  if ("experiment" in read) {
    const { id } = parseOr400(IdParams, await read.experiment);
    return scope.kind === "filter" && scope.experiment === id ? null : outside(`it does not show experiment ${id}`);
  }
  const { id } = parseOr400(IdParams, await read.run);
  return runWithinShare(scope, id) ? null : outside(`it does not show run ${id}`);
}

/**
 * Checks a read: open unless FRONTIER_AUTH=token and FRONTIER_READ=token, when it needs an API
 * token, a signed-in session (no CSRF token: a read changes nothing) or, for the endpoints a shared
 * view draws from (`share` says what the route reads), a live share link's token whose view holds
 * that read.
 */
export async function authorizeRead(req: Request, opts: { share?: ShareRead } = {}): Promise<Principal> {
  if (!readsNeedToken()) return { kind: "anonymous" };
  const bearer = bearerToken(req);
  if (bearer !== null) return bearerPrincipal(bearer);
  const session = sessionOf(req);
  if (session) return { kind: "session", tokenId: session.apiTokenId, name: session.name };
  if (!opts.share) throw unauthorized(READS_NEED_TOKEN);
  const refusal = await shareRefusal(req, opts.share);
  if (refusal !== null) throw unauthorized(refusal);
  return { kind: "anonymous" };
}

/** `handle` for a write route: authorizeWrite first, then the body. */
export function handleWrite(req: Request, fn: (who: Principal) => Promise<Response> | Response): Promise<Response> {
  return handle(() => fn(authorizeWrite(req)));
}

/** `handle` for a read route: authorizeRead first. Routes a shared view reads say what they read (`share`). */
export function handleRead(req: Request, fn: () => Promise<Response> | Response, opts: { share?: ShareRead } = {}): Promise<Response> {
  return handle(async () => {
    await authorizeRead(req, opts);
    return fn();
  });
}
