import type { Metadata } from "next";
import { getDb } from "@/db/client";
import { lookupShareLink } from "@/db/queries/share";
import { SharedView } from "@/components/shared-view";

export const dynamic = "force-dynamic";
export const metadata: Metadata = { title: "Shared view · Frontier", robots: { index: false } };

// /s/:token — a shared view, read-only; a revoked or expired link says so
export default async function SharedPage({ params }: { params: Promise<{ token: string }> }) {
  const { token } = await params;
  const found = lookupShareLink(getDb(), token);
  if (found.state === "ok") return <SharedView view={found.link.view} expiresAt={found.link.expiresAt} />;
  const when = found.state === "missing" ? null : new Date(found.at).toISOString().replace("T", " ").slice(0, 16) + " UTC";
  return (
    <div className="card gone" data-testid="share-gone" data-state={found.state}>
      <h1>{found.state === "missing" ? "404 · No such shared view" : "410 · This shared view is gone"}</h1>
      <p>
        {found.state === "revoked" && `Its author revoked this link on ${when}.`}
        {found.state === "expired" && `This link expired on ${when}.`}
        {found.state === "missing" && "No shared view has this link. Check that it was copied whole."}
      </p>
      <p className="muted">Ask whoever sent it for a new link.</p>
    </div>
  );
}
