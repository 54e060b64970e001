import { defineConfig } from "vitest/config";
import path from "node:path";

export default defineConfig({
  resolve: { alias: { "@": path.resolve(import.meta.dirname) } },
  test: {
    include: ["tests/**/*.test.ts"],
    environment: "node",
    pool: "forks",
    // Two files at a time on CI's two cores: many tests spend their time waiting on child processes
    // (workers, servers, onnxruntime sessions), and one file at a time left a core idle (vitest
    // 396 s serial on a quiet 2-core machine).
    maxWorkers: 2,
    testTimeout: 60_000,
    hookTimeout: 120_000,
  },
});
