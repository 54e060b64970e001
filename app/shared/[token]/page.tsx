import type { Metadata } from "next";
import { redirect } from "next/navigation";
import { lookupShareLink } from "@/db/queries/share";
import { SharedView } from "@/components/shared-view";

export const dynamic = "force-dynamic";
export const metadata: Metadata = { title: "Shared view · Frontier", robots: { index: false } };

// /shared/:token — a shared view, read-only; once the link is revoked or expired, /s/:token says so
export default async function SharedPage({ params }: { params: Promise<{ token: string }> }) {
  const { token } = await params;
  const found = lookupShareLink(token);
  if (found.state !== "ok") redirect(`/s/${encodeURIComponent(token)}`);
  return <SharedView view={found.link.view} expiresAt={found.link.expiresAt} token={token} />;
}
