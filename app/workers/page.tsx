import type { Metadata } from "next";
import { WorkersView } from "@/components/workers-view";

export const metadata: Metadata = { title: "Workers · Frontier" };

// /workers — enrolled workers; revoke one's token
export default function WorkersPage() {
  return (
    <>
      <h1>Workers</h1>
      <WorkersView />
    </>
  );
}
