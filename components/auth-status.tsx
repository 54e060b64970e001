"use client";

import Link from "next/link";
import { usePathname } from "next/navigation";
import { useEffect, useState } from "react";
import { api } from "@/lib/api-client";
import type { SessionResponse } from "@/lib/schemas/session";

/**
 * The top bar's sign-in state. In local mode (no tokens) it shows nothing. In token mode an anonymous visitor sees a
 * "Sign in" link (writes need it; with FRONTIER_READ=token everything does, and a banner says so), a signed-in one
 * the token's name and "Sign out".
 */
export function AuthStatus() {
  const [session, setSession] = useState<SessionResponse | null>(null);
  const pathname = usePathname();
  useEffect(() => {
    let live = true;
    api
      .session()
      .then((s) => live && setSession(s))
      .catch(() => {});
    return () => {
      live = false;
    };
  }, []);
  if (!session || session.mode === "local") return null;
  if (session.signedIn) {
    return (
      <span className="auth-status" data-testid="auth-status">
        signed in as <strong>{session.name}</strong>{" "}
        <button
          type="button"
          className="link-button"
          onClick={async () => {
            await api.signOut().catch(() => {});
            window.location.assign("/signin");
          }}
        >
          Sign out
        </button>
      </span>
    );
  }
  const onSignIn = pathname === "/signin";
  const shared = pathname?.startsWith("/shared/");
  return (
    <span className="auth-status" data-testid="auth-status">
      {!onSignIn && (
        <Link href={`/signin?next=${encodeURIComponent(pathname ?? "/")}`} prefetch={false}>
          Sign in
        </Link>
      )}
      {session.reads === "token" && !onSignIn && !shared && <span className="auth-note"> · this server needs a token to show anything</span>}
    </span>
  );
}
