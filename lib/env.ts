import { z } from "zod";

/** Server configuration from the environment, parsed once with one clear error. */
const EnvSchema = z.object({
  FRONTIER_DB: z.string().min(1).optional().describe("SQLite file (default ./data/frontier.db)"),
  FRONTIER_DATA_DIR: z.string().min(1).optional().describe("Artifacts and caches (default ./data)"),
  PORT: z.coerce.number().int().min(1).max(65535).default(3000),
  HOST: z.string().default("0.0.0.0"),
  FRONTIER_LOCAL_WORKER: z.enum(["0", "1"]).default("1").describe("Start a local CPU worker with npm start"),
  FRONTIER_ENROLL_TOKEN: z.string().min(16).optional().describe("Token workers present to register"),
  FRONTIER_LEASE_MS: z.coerce.number().int().positive().optional().describe("Lease duration without a heartbeat (default 60000)"),
  FRONTIER_RETRY_BASE_MS: z.coerce.number().int().positive().optional().describe("Retry backoff base: 2^attempts × this (default 1000)"),
  FRONTIER_WORKER_GRACE_MS: z.coerce.number().int().min(0).optional().describe("Worker shutdown grace for the current job (default 30000)"),
});

export type Env = z.infer<typeof EnvSchema>;

export function parseEnv(source: NodeJS.ProcessEnv = process.env): Env {
  const result = EnvSchema.safeParse(source);
  if (!result.success) {
    const lines = result.error.issues.map((i) => `  ${i.path.join(".")}: ${i.message}`);
    throw new Error(`Invalid environment:\n${lines.join("\n")}`);
  }
  return result.data;
}
