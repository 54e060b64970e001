"use client";

import Link from "next/link";
import { Suspense } from "react";
import type { ViewState } from "@/lib/schemas/share";
import { setShareToken } from "@/lib/api-client";
import { viewHref } from "@/lib/share-state";
import { CompareView } from "./compare-view";
import { ExperimentDetailView } from "./experiments-view";
import { Explorer } from "./explorer";
import { RunsView } from "./runs-view";
import { FixedViewParams } from "./view-params";

/** A shared link's view, read-only: the page it was shared from, with the stored state. */
export function SharedView({ view, expiresAt, token }: { view: ViewState; expiresAt: number | null; token?: string }) {
  // Before the view's queries start: reads carry the link's token (a server with FRONTIER_READ=token needs it).
  if (token) setShareToken(token);
  return (
    <FixedViewParams query={view.query}>
      <div className="shared-banner" data-testid="shared-banner">
        Read-only shared view{expiresAt ? ` · expires ${new Date(expiresAt).toISOString().slice(0, 10)}` : ""} ·{" "}
        <Link href={viewHref(view)}>open it in the dashboard</Link>
      </div>
      <Suspense>
        {view.page === "explorer" && <Explorer />}
        {view.page === "runs" && <RunsView />}
        {view.page === "compare" && <CompareView />}
        {view.page === "experiment" && view.id && <ExperimentDetailView id={Number(view.id)} />}
      </Suspense>
    </FixedViewParams>
  );
}
