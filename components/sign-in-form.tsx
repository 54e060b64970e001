"use client";

import { useSearchParams } from "next/navigation";
import { useState } from "react";
import { api, ApiError } from "@/lib/api-client";

/** Posts an API token to /api/v1/session; the server answers with an http-only session cookie. */
export function SignInForm() {
  const params = useSearchParams();
  const [token, setToken] = useState("");
  const [error, setError] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);
  const next = params.get("next");
  // Only a path on this site: never an absolute URL someone put in the link.
  // ("/\\host" is read as "//host" by browsers)
  const target = next !== null && /^\/(?![/\\])/.test(next) ? next : "/";
  return (
    <form
      className="card signin"
      data-testid="signin-form"
      onSubmit={async (e) => {
        e.preventDefault();
        setBusy(true);
        setError(null);
        try {
          await api.signIn(token.trim());
          window.location.assign(target);
        } catch (err) {
          setError(err instanceof ApiError ? err.message : String(err));
          setBusy(false);
        }
      }}
    >
      <label>
        API token
        <input type="password" autoComplete="off" value={token} onChange={(e) => setToken(e.target.value)} placeholder="ft_…" required />
      </label>
      <p className="muted">
        An administrator creates one with <code>npm run token -- create --name YOUR_NAME</code>. The browser keeps a session cookie, not the token.
      </p>
      {error && (
        <p className="error" role="alert">
          {error}
        </p>
      )}
      <button type="submit" disabled={busy || token.trim() === ""}>
        Sign in
      </button>
    </form>
  );
}
