import type { Metadata } from "next";
import { ApiReference } from "@/components/api-reference";

export const metadata: Metadata = { title: "API reference · Frontier" };

const SPEC_URL = "/api/v1/openapi.json";

export default function ApiDocsPage() {
  return (
    <>
      <h1>API reference</h1>
      <p className="muted">
        Every endpoint under /api/v1, from the OpenAPI document at <a href={SPEC_URL}>{SPEC_URL}</a>.
      </p>
      <ApiReference url={SPEC_URL} />
    </>
  );
}
