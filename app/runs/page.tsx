import type { Metadata } from "next";
import { Suspense } from "react";
import { RunsView } from "@/components/runs-view";

export const metadata: Metadata = { title: "Runs · Frontier" };

export default function RunsPage() {
  return (
    <Suspense>
      <RunsView />
    </Suspense>
  );
}
