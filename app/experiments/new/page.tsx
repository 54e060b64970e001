import type { Metadata } from "next";
import { SubmissionForm } from "@/components/submission-form";

export const metadata: Metadata = { title: "New experiment · Frontier" };

export default function NewExperimentPage() {
  return <SubmissionForm />;
}
