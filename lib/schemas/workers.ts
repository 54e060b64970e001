import { z } from "zod";
import { DATASET_TASKS, MODEL_KINDS, MODEL_SOURCES } from "../domain";
import { boundedMetrics, Runtime } from "./common";

/**
 * Request and response shapes of the worker protocol (register, lease, heartbeat, complete, fail).
 * Defined once: the route handlers parse with them, the worker's HTTP client is typed by them and
 * the OpenAPI document is generated from them.
 */

export const HardwareFingerprint = z.object({
  runtime: Runtime,
  ortVersion: z.string().max(100),
  cpuModel: z.string().max(300),
  cpuCores: z.number().int().min(0).max(100_000),
  memoryBytes: z.number().min(0),
  platform: z.string().max(100),
  nodeVersion: z.string().max(100),
  /** CPU instruction-set features that select kernels (avx2, avx512f, avx512-vnni, amx-int8, neon, dotprod, ...). */
  isa: z.array(z.string().max(40)).max(64).optional(),
  adapter: z
    .object({
      vendor: z.string().max(200),
      architecture: z.string().max(200),
      description: z.string().max(300),
      device: z.string().max(300).optional(),
    })
    .optional(),
});
export type HardwareFingerprint = z.output<typeof HardwareFingerprint>;

const runtimeList = z
  .array(Runtime)
  .min(1)
  .max(4)
  .refine((rs) => new Set(rs).size === rs.length, "runtimes must not repeat");

// POST /api/v1/workers/register
export const WorkerRegisterBody = z
  .strictObject({
    name: z.string().trim().min(1).max(100),
    capabilities: z.looseObject({ runtimes: runtimeList }),
    /** One fingerprint per offered runtime, keyed by runtime; it yields the hardware_key of its runs. */
    hardware: z.partialRecord(Runtime, HardwareFingerprint).default({}),
  })
  .superRefine((body, ctx) => {
    for (const [runtime, fp] of Object.entries(body.hardware)) {
      if (!body.capabilities.runtimes.includes(runtime as Runtime)) {
        ctx.addIssue({ code: "custom", path: ["hardware", runtime], message: `runtime ${runtime} is not in capabilities.runtimes` });
      } else if (fp && fp.runtime !== runtime) {
        ctx.addIssue({ code: "custom", path: ["hardware", runtime, "runtime"], message: `fingerprint is for ${fp.runtime}, not ${runtime}` });
      }
    }
  });
export type WorkerRegisterBody = z.infer<typeof WorkerRegisterBody>;

export const WorkerRegisterResponse = z.object({ workerId: z.string(), token: z.string() });
export type WorkerRegisterResponse = z.infer<typeof WorkerRegisterResponse>;

// POST /api/v1/workers/lease
export const LeaseBody = z.strictObject({
  /** A subset of the worker's registered runtimes; all of them when absent. */
  runtimes: runtimeList.optional(),
});
export type LeaseBody = z.infer<typeof LeaseBody>;

/** A model as a job receives it. */
export const ModelRef = z.object({
  id: z.string(),
  kind: z.enum(MODEL_KINDS),
  source: z.enum(MODEL_SOURCES),
  /** Absolute directory plus file names, e.g. { dir, model: "model.onnx", tokenizer: "tokenizer.json" }. */
  files: z.record(z.string(), z.string()),
  sha256: z.string().nullable(),
  card: z.record(z.string(), z.unknown()).nullable(),
});
export type ModelRef = z.output<typeof ModelRef>;

/** A dataset as a job receives it. */
export const DatasetRef = z.object({
  id: z.string(),
  task: z.enum(DATASET_TASKS),
  /** Absolute path of the JSONL file (docs/datasets.md). */
  file: z.string(),
  sha256: z.string().nullable(),
});
export type DatasetRef = z.output<typeof DatasetRef>;

/** A leased run; the executor gets its run fields as a JobSpec (workers/types.ts), plus the workDir the worker picks. */
export const LeasedRun = z.object({
  runId: z.number().int(),
  methodId: z.string(),
  params: z.record(z.string(), z.unknown()),
  model: ModelRef,
  dataset: DatasetRef,
  /**
   * The registered validation split of `dataset`, which calibration-based methods draw from so they
   * never calibrate on test examples; null when none is registered. Optional for older servers.
   */
  calibration: DatasetRef.nullable().optional(),
  /** Other registered models the params name (a speculative run's draft_model). Optional for older servers. */
  models: z.array(ModelRef).optional(),
  runtime: Runtime,
  seed: z.number().int(),
  baseline: z.object({ runId: z.number().int(), metrics: z.record(z.string(), z.number()) }).nullable(),
  attempt: z.number().int(),
  maxAttempts: z.number().int(),
  leaseToken: z.string(),
  leaseExpiresAt: z.number().int(),
  /** Lease duration in ms, so the worker paces heartbeats without trusting clock agreement. */
  leaseMs: z.number().int(),
});
export type LeasedRun = z.infer<typeof LeasedRun>;
export const LeaseResponse = z.object({ run: LeasedRun });
export type LeaseResponse = z.infer<typeof LeaseResponse>;

const LogLevel = z.enum(["debug", "info", "warn", "error"]);

// POST /api/v1/runs/:id/heartbeat
export const HeartbeatBody = z.strictObject({
  leaseToken: z.string().min(1).max(200),
  stage: z.string().trim().min(1).max(100).optional(),
  progress: z.number().min(0).max(1).optional(),
  logs: z
    .array(z.strictObject({ level: LogLevel.default("info"), message: z.string().max(10_000), ts: z.number().int().optional() }))
    .max(1000)
    .default([]),
});
export type HeartbeatBody = z.output<typeof HeartbeatBody>;

export const HeartbeatResponse = z.object({ canceled: z.boolean(), leaseExpiresAt: z.number().int() });
export type HeartbeatResponse = z.infer<typeof HeartbeatResponse>;

const metricKey = z.string().regex(/^[a-z][a-z0-9_.]{0,99}$/, "metric keys are lower_snake_case");
const MetricsSchema = boundedMetrics(z.record(metricKey, z.number().refine(Number.isFinite, "metric values must be finite numbers")));

/** A file a job produced (a kept model, a report), stored on the worker's side. */
export const ArtifactRef = z.strictObject({
  kind: z.string().trim().min(1).max(100),
  path: z.string().min(1).max(4096),
  bytes: z.number().int().min(0),
  sha256: z.string().regex(/^[0-9a-f]{64}$/, "sha256 must be 64 lowercase hex digits"),
});
export type ArtifactRef = z.output<typeof ArtifactRef>;

// POST /api/v1/runs/:id/complete
export const CompleteBody = z.strictObject({
  leaseToken: z.string().min(1).max(200),
  metrics: MetricsSchema,
  artifacts: z.array(ArtifactRef).max(1000).default([]),
  hardware: HardwareFingerprint,
  /** The unmodified model's metrics, when the job measured them because the lease had no baseline. */
  baselineMetrics: MetricsSchema.optional(),
  notes: z.array(z.string().max(10_000)).max(100).default([]),
});
export type CompleteBody = z.output<typeof CompleteBody>;

export const CompleteResponse = z.object({ status: z.literal("succeeded"), baselineRunId: z.number().int().nullable() });
export type CompleteResponse = z.infer<typeof CompleteResponse>;

// POST /api/v1/runs/:id/fail
export const FailBody = z.strictObject({
  leaseToken: z.string().min(1).max(200),
  error: z.string().trim().min(1).max(20_000),
  retryable: z.boolean(),
});
export type FailBody = z.infer<typeof FailBody>;

export const FailResponse = z.object({
  status: z.enum(["queued", "failed"]),
  attempts: z.number().int(),
  maxAttempts: z.number().int(),
  availableAt: z.number().int().nullable(),
});
export type FailResponse = z.infer<typeof FailResponse>;

// GET /api/v1/workers
/** A registered worker as the list shows it: the runtimes it offers (never its token hash). */
export const WorkerInfo = z.object({
  id: z.string(),
  name: z.string(),
  runtimes: z.array(z.string()),
  lastHeartbeatAt: z.number().int().nullable(),
  /** active; revoked (its token was revoked); stale (issued under a rotated enrollment token: it must re-enroll) */
  status: z.enum(["active", "revoked", "stale"]),
});
export type WorkerInfo = z.infer<typeof WorkerInfo>;

export const WorkersResponse = z.object({ workers: z.array(WorkerInfo) });
export type WorkersResponse = z.infer<typeof WorkersResponse>;
