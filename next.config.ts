import type { NextConfig } from "next";

/**
 * Content-Security-Policy for every page and API response. Scripts come from this origin only, plus inline
 * scripts: the App Router streams its payload in inline `<script>` tags (self.__next_f.push) and only a per-request
 * nonce set by middleware could name them one by one, which would make every page dynamic. Inline styles are the
 * chart library's and the share-gone page's; images allow data: and blob: for the chart PNG/SVG export. Development
 * (React refresh) also needs eval. Nothing may frame the app.
 */
const dev = process.env.NODE_ENV !== "production";
const csp = [
  "default-src 'self'",
  `script-src 'self' 'unsafe-inline'${dev ? " 'unsafe-eval'" : ""}`,
  "style-src 'self' 'unsafe-inline'",
  "img-src 'self' data: blob:",
  "font-src 'self' data:",
  `connect-src 'self'${dev ? " ws: wss:" : ""}`,
  "worker-src 'self' blob:",
  "object-src 'none'",
  "base-uri 'self'",
  "form-action 'self'",
  "frame-ancestors 'none'",
].join("; ");

const securityHeaders = [
  { key: "Content-Security-Policy", value: csp },
  { key: "X-Frame-Options", value: "DENY" },
  { key: "X-Content-Type-Options", value: "nosniff" },
  { key: "Referrer-Policy", value: "no-referrer" },
];

const nextConfig: NextConfig = {
  // Native addons and wasm runtimes stay out of the server bundle and are required at run time.
  serverExternalPackages: ["better-sqlite3", "onnxruntime-node", "onnxruntime-web", "webgpu"],
  typedRoutes: false,
  devIndicators: false,
  poweredByHeader: false,
  async headers() {
    return [{ source: "/:path*", headers: securityHeaders }];
  },
};

export default nextConfig;
