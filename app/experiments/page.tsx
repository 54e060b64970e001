import type { Metadata } from "next";
import { ExperimentsList } from "@/components/experiments-view";

export const metadata: Metadata = { title: "Experiments · Frontier" };

export default function ExperimentsPage() {
  return <ExperimentsList />;
}
