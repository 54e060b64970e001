import { z } from "zod";
import { Runtime, RunStatus } from "./common";

/** Largest grid one experiment may expand to; bigger sweeps are split into several experiments. */
export const MAX_GRID_POINTS = 1000;

/** POST /api/v1/experiments — a method plus a parameter grid over one model, dataset and runtime. */
export const CreateExperimentBody = z.strictObject({
  name: z.string().trim().min(1).max(200),
  description: z.string().max(5000).optional(),
  modelId: z.string().min(1).max(64),
  datasetId: z.string().min(1).max(64),
  runtime: Runtime,
  methodId: z.string().min(1).max(64),
  /** Each param maps to the list of values to sweep; params left out take the method's defaults. */
  grid: z.record(z.string().min(1).max(64), z.array(z.unknown()).min(1).max(MAX_GRID_POINTS)).default({}),
  seed: z
    .number()
    .int()
    .min(0)
    .max(2 ** 31 - 1)
    .default(0),
});
export type CreateExperimentBody = z.output<typeof CreateExperimentBody>;

export const CreateExperimentResponse = z.object({ id: z.number().int(), runIds: z.array(z.number().int()) });
export type CreateExperimentResponse = z.infer<typeof CreateExperimentResponse>;

export const StatusCounts = z.partialRecord(RunStatus, z.number().int());
export type StatusCounts = z.infer<typeof StatusCounts>;

export const ExperimentRow = z.object({
  id: z.number().int(),
  name: z.string(),
  description: z.string().nullable(),
  modelId: z.string(),
  datasetId: z.string(),
  runtime: z.string(),
  methodId: z.string(),
  family: z.string().nullable(),
  grid: z.record(z.string(), z.array(z.unknown())),
  createdAt: z.number(),
  runCount: z.number().int(),
  statusCounts: StatusCounts,
});
export type ExperimentRow = z.infer<typeof ExperimentRow>;

export const ExperimentsResponse = z.object({ experiments: z.array(ExperimentRow) });
export type ExperimentsResponse = z.infer<typeof ExperimentsResponse>;

/** A run as the experiment page lists it: its grid point, status and summary metrics. */
export const ExperimentRun = z.object({
  id: z.number().int(),
  params: z.record(z.string(), z.unknown()),
  status: RunStatus,
  stage: z.string().nullable(),
  progress: z.number().nullable(),
  attempts: z.number().int(),
  error: z.string().nullable(),
  hardwareKey: z.string().nullable(),
  createdAt: z.number(),
  startedAt: z.number().nullable(),
  finishedAt: z.number().nullable(),
  metrics: z.record(z.string(), z.number()),
});
export type ExperimentRun = z.infer<typeof ExperimentRun>;

export const ExperimentDetail = z.object({
  experiment: ExperimentRow,
  runs: z.array(ExperimentRun),
});
export type ExperimentDetail = z.infer<typeof ExperimentDetail>;
