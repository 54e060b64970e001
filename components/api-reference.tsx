"use client";

import dynamic from "next/dynamic";
import "swagger-ui-react/swagger-ui.css";

/**
 * Swagger UI renders the OpenAPI document in the browser only (it touches `window` when loaded). It is
 * bundled with the app and uses system fonts, so the page needs nothing from another origin (the CSP
 * in next.config.ts allows none).
 */
const SwaggerUI = dynamic(() => import("swagger-ui-react"), {
  ssr: false,
  loading: () => <p className="muted">Loading the API reference…</p>,
});

/**
 * The document names one server, this origin, so Swagger UI's server picker (an unlabelled select)
 * is left out. Deep links stay off: they put a link inside each operation's toggle button.
 */
const plugins = [{ wrapComponents: { ServersContainer: () => () => null } }];

export function ApiReference({ url }: { url: string }) {
  return (
    <div className="api-reference">
      <SwaggerUI url={url} docExpansion="list" defaultModelsExpandDepth={0} tryItOutEnabled={false} plugins={plugins} />
    </div>
  );
}
