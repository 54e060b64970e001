import path from "node:path";
import { z } from "zod";

/** An unset-looking empty value (`FRONTIER_LEASE_MS=`) takes the default, as an absent one does. */
const blankAsUnset = <S extends z.ZodType>(schema: S) => z.preprocess((v) => (v === "" ? undefined : v), schema);

/**
 * Every setting Frontier reads from the environment, with its default: the server (scripts/start.ts,
 * the DB client, lease timing) and the worker process (workers/main.ts) read them all through here.
 */
const EnvSchema = z.object({
  FRONTIER_DB: z.string().min(1).default("data/frontier.db").describe("SQLite file (default ./data/frontier.db)"),
  FRONTIER_DATA_DIR: z.string().min(1).default("data").describe("Artifacts and caches (default ./data)"),
  FRONTIER_MODEL_ROOTS: blankAsUnset(
    z
      .string()
      .transform((s) =>
        s
          .split(path.delimiter)
          .map((p) => p.trim())
          .filter((p) => p !== ""),
      )
      .pipe(z.array(z.string()).min(1, "list at least one directory"))
      .optional(),
  ).describe(`Directories models and datasets may be registered from, separated by "${path.delimiter}" (default: ./zoo and the data directory)`),
  PORT: z.coerce.number().int().min(1).max(65535).default(3000),
  HOST: z.string().min(1).default("127.0.0.1").describe("Interface the app binds (default 127.0.0.1: this machine only)"),
  FRONTIER_PUBLIC_URL: blankAsUnset(
    z
      .url({ protocol: /^https?$/ })
      .optional()
      .describe("Origin share links are built on (default: the request's Host / X-Forwarded-Host)"),
  ),
  FRONTIER_LOCAL_WORKER: z.enum(["0", "1"]).default("1").describe("Start a local CPU worker with npm start"),
  FRONTIER_ENROLL_TOKEN: blankAsUnset(z.string().min(16).optional()).describe("Token workers present to register"),
  FRONTIER_ENROLL_TOKEN_FILE: blankAsUnset(z.string().min(1).optional()).describe(
    "File holding the enrollment token (read on every registration, so rewriting it rotates the token); FRONTIER_ENROLL_TOKEN wins",
  ),
  FRONTIER_AUTH: blankAsUnset(z.enum(["local", "token"]).default("local")).describe(
    "local (default: no tokens; the server must bind loopback) or token (writes need an API token or a signed-in session)",
  ),
  FRONTIER_READ: blankAsUnset(z.enum(["open", "token"]).default("open")).describe("With FRONTIER_AUTH=token: open (default) reads, or reads need a token too"),
  FRONTIER_LEASE_MS: blankAsUnset(z.coerce.number().int().positive().default(60_000)).describe("Lease duration without a heartbeat (default 60000)"),
  FRONTIER_RETRY_BASE_MS: blankAsUnset(z.coerce.number().int().positive().default(1_000)).describe("Retry backoff base: 2^attempts × this (default 1000)"),
  FRONTIER_WORKER_GRACE_MS: blankAsUnset(z.coerce.number().int().min(0).default(30_000)).describe("Worker shutdown grace for the current job (default 30000)"),
});

export type Env = z.infer<typeof EnvSchema>;
type EnvKey = keyof Env;

function parseWith<S extends z.ZodType>(schema: S, source: NodeJS.ProcessEnv): z.infer<S> {
  const result = schema.safeParse(source);
  if (!result.success) {
    const lines = result.error.issues.map((i) => `  ${i.path.join(".")}: ${i.message}`);
    throw new Error(`Invalid environment:\n${lines.join("\n")}`);
  }
  return result.data;
}

/** Every setting, parsed once with one error listing each bad value (the server at start-up). */
export function parseEnv(source: NodeJS.ProcessEnv = process.env): Env {
  return parseWith(EnvSchema, source);
}

const single = new Map<EnvKey, z.ZodType>();

/**
 * One setting, read when it is needed rather than at import: lease timing and the DB file are read
 * per call so tests (and a worker on the same process) can change them, and a process that needs
 * only its own settings is not refused for another's (a worker has no use for PORT).
 */
export function envSetting<K extends EnvKey>(key: K, source: NodeJS.ProcessEnv = process.env): Env[K] {
  let schema = single.get(key);
  if (!schema) single.set(key, (schema = EnvSchema.pick({ [key]: true } as never)));
  return (parseWith(schema, source) as Pick<Env, K>)[key];
}
