import type { Metadata } from "next";
import { Suspense } from "react";
import { Explorer } from "@/components/explorer";

export const metadata: Metadata = { title: "Explorer · Frontier" };

export default function HomePage() {
  return (
    <Suspense>
      <Explorer />
    </Suspense>
  );
}
