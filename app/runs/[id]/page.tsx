import type { Metadata } from "next";
import { notFound } from "next/navigation";
import { RunDetailView } from "@/components/run-detail";
import { runTitle } from "@/db/queries/titles";
import { readsNeedToken } from "@/lib/auth";

export async function generateMetadata({ params }: { params: Promise<{ id: string }> }): Promise<Metadata> {
  const { id } = await params;
  if (!/^[1-9][0-9]{0,14}$/.test(id)) return { title: "Run not found · Frontier" };
  return { title: `${runTitle(Number(id), !readsNeedToken())} · Frontier` };
}

export default async function RunPage({ params }: { params: Promise<{ id: string }> }) {
  const { id } = await params;
  if (!/^[1-9][0-9]{0,14}$/.test(id)) notFound();
  return <RunDetailView id={Number(id)} />;
}
