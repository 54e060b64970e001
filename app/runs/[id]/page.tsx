import { notFound } from "next/navigation";
import { RunDetailView } from "@/components/run-detail";

export default async function RunPage({ params }: { params: Promise<{ id: string }> }) {
  const { id } = await params;
  if (!/^[1-9][0-9]{0,14}$/.test(id)) notFound();
  return <RunDetailView id={Number(id)} />;
}
