import { createSession, deleteSession, findApiToken, findSession } from "@/db/queries/auth";
import { authMode, CSRF_COOKIE, checkOrigin, checkWriteRequest, cookieValue, readsNeedToken, SESSION_COOKIE } from "@/lib/auth";
import { HttpError, handle, parseOr400, readJson } from "@/lib/http";
import { SignInBody } from "@/lib/schemas/session";

export const dynamic = "force-dynamic";

/** Secure cookies when the visitor reached the server over HTTPS (directly or through a proxy that says so). */
function secure(req: Request): boolean {
  const proto = req.headers.get("x-forwarded-proto")?.split(",")[0]?.trim().toLowerCase();
  return proto === "https" || new URL(req.url).protocol === "https:";
}

function cookie(name: string, value: string, opts: { httpOnly: boolean; maxAgeS: number; secure: boolean }): string {
  return [
    `${name}=${value}`,
    "Path=/",
    "SameSite=Strict",
    `Max-Age=${opts.maxAgeS}`,
    ...(opts.httpOnly ? ["HttpOnly"] : []),
    ...(opts.secure ? ["Secure"] : []),
  ].join("; ");
}

// GET /api/v1/session — the server's auth mode and whether this browser is signed in (and as which token)
export function GET(req: Request) {
  return handle(() => {
    const mode = authMode();
    const value = cookieValue(req, SESSION_COOKIE);
    const session = mode === "token" && value ? findSession(value) : null;
    return Response.json({
      mode,
      reads: readsNeedToken() ? "token" : "open",
      signedIn: session !== null,
      ...(session ? { name: session.name, expiresAt: session.expiresAt } : {}),
    });
  });
}

// POST /api/v1/session — sign the dashboard in with an API token: sets the http-only session cookie and the CSRF cookie
export function POST(req: Request) {
  return handle(async () => {
    checkWriteRequest(req);
    if (authMode() !== "token") throw new HttpError(409, "this server runs without tokens (FRONTIER_AUTH is not token): there is nothing to sign in to");
    const { token } = parseOr400(SignInBody, await readJson(req));
    const row = findApiToken(token.trim());
    if (!row) throw new HttpError(401, "unknown or revoked API token");
    const { session, csrf, expiresAt } = createSession(row.id);
    const maxAgeS = Math.floor((expiresAt - Date.now()) / 1000);
    const headers = new Headers({ "cache-control": "no-store" });
    headers.append("set-cookie", cookie(SESSION_COOKIE, session, { httpOnly: true, maxAgeS, secure: secure(req) }));
    headers.append("set-cookie", cookie(CSRF_COOKIE, csrf, { httpOnly: false, maxAgeS, secure: secure(req) }));
    return Response.json({ name: row.name, expiresAt, csrf }, { status: 201, headers });
  });
}

// DELETE /api/v1/session — sign out: the session ends server-side and both cookies are cleared
export function DELETE(req: Request) {
  return handle(() => {
    checkOrigin(req);
    const value = cookieValue(req, SESSION_COOKIE);
    if (value) deleteSession(value);
    const headers = new Headers({ "cache-control": "no-store" });
    headers.append("set-cookie", cookie(SESSION_COOKIE, "", { httpOnly: true, maxAgeS: 0, secure: secure(req) }));
    headers.append("set-cookie", cookie(CSRF_COOKIE, "", { httpOnly: false, maxAgeS: 0, secure: secure(req) }));
    return Response.json({ signedOut: true }, { headers });
  });
}
