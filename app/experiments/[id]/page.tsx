import { notFound } from "next/navigation";
import { Suspense } from "react";
import { ExperimentDetailView } from "@/components/experiments-view";

export default async function ExperimentPage({ params }: { params: Promise<{ id: string }> }) {
  const { id } = await params;
  if (!/^[1-9][0-9]{0,14}$/.test(id)) notFound();
  return (
    <Suspense>
      <ExperimentDetailView id={Number(id)} />
    </Suspense>
  );
}
