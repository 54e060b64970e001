import type { Metadata } from "next";
import { Suspense } from "react";
import { CompareView } from "@/components/compare-view";

export const metadata: Metadata = { title: "Compare runs · Frontier" };

export default function ComparePage() {
  return (
    <Suspense>
      <CompareView />
    </Suspense>
  );
}
