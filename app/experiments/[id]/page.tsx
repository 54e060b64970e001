import type { Metadata } from "next";
import { notFound } from "next/navigation";
import { Suspense } from "react";
import { ExperimentDetailView } from "@/components/experiments-view";
import { experimentTitle } from "@/db/queries/titles";
import { readsNeedToken } from "@/lib/auth";

export async function generateMetadata({ params }: { params: Promise<{ id: string }> }): Promise<Metadata> {
  const { id } = await params;
  if (!/^[1-9][0-9]{0,14}$/.test(id)) return { title: "Experiment not found · Frontier" };
  return { title: `${experimentTitle(Number(id), !readsNeedToken())} · Frontier` };
}

export default async function ExperimentPage({ params }: { params: Promise<{ id: string }> }) {
  const { id } = await params;
  if (!/^[1-9][0-9]{0,14}$/.test(id)) notFound();
  return (
    <Suspense>
      <ExperimentDetailView id={Number(id)} />
    </Suspense>
  );
}
