import type { NextConfig } from "next";

const nextConfig: NextConfig = {
  // Native addons and wasm runtimes stay out of the server bundle and are required at run time.
  serverExternalPackages: ["better-sqlite3", "onnxruntime-node", "onnxruntime-web", "webgpu"],
  typedRoutes: false,
  devIndicators: false,
};

export default nextConfig;
