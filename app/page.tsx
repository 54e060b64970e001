import { Suspense } from "react";
import { Explorer } from "@/components/explorer";

export default function HomePage() {
  return (
    <Suspense>
      <Explorer />
    </Suspense>
  );
}
