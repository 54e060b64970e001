import { sql } from "drizzle-orm";
import type { z } from "zod";
import { getDb, type Tx } from "../client";
import { experiments, runEvents, runs } from "../schema";
import { invalid, notFound, type FieldIssue } from "../../lib/errors";
import { expandGrid } from "../../lib/grid";
import { getMethod } from "../../lib/methods";
import type { CreateExperimentBody, CreateExperimentResponse, ExperimentDetail, ExperimentRow, StatusCounts } from "../../lib/schemas/experiments";
import { getDataset } from "./datasets";
import { getModel } from "./models";
import { metricsByRun, reapBeforeRead } from "./runs";

/** Creates an experiment and queues one run per grid point, all in one transaction. */
export function createExperiment(body: z.infer<typeof CreateExperimentBody>, tx: Tx = getDb(), now = Date.now()): CreateExperimentResponse {
  const details: FieldIssue[] = [];
  const method = getMethod(body.methodId);
  if (!method) details.push({ field: "methodId", message: `unknown method "${body.methodId}" (GET /api/v1/methods lists them)` });
  if (!getModel(body.modelId, tx)) details.push({ field: "modelId", message: `unknown model "${body.modelId}" (register it with POST /api/v1/models)` });
  if (!getDataset(body.datasetId, tx))
    details.push({ field: "datasetId", message: `unknown dataset "${body.datasetId}" (register it with POST /api/v1/datasets)` });
  let points: Record<string, unknown>[] = [];
  if (method) {
    const g = expandGrid(method, body.grid);
    details.push(...g.details);
    points = g.points;
    const model = getModel(body.modelId, tx);
    if (model && (model.source === "shape" || model.card?.shapeOnly === true) && points.some((p) => method.calibrates?.(p))) {
      details.push({
        field: "methodId",
        message: `${method.id} calibrates on text, and ${model.id} has random weights (speed and memory only): use a trained model`,
      });
    }
    for (const id of new Set(points.flatMap((p) => method.models?.(p) ?? []))) {
      if (!getModel(id, tx)) details.push({ field: "grid", message: `unknown model "${id}" named in the params (register it with POST /api/v1/models)` });
    }
    if (!method.implemented) {
      details.push({ field: "methodId", message: `method ${method.id} has no executor yet; it is listed in the registry but runs cannot be queued for it` });
    }
  }
  if (details.length > 0) throw invalid("invalid request", details);
  return tx.transaction((t) => {
    const exp = t
      .insert(experiments)
      .values({
        name: body.name,
        description: body.description ?? null,
        modelId: body.modelId,
        datasetId: body.datasetId,
        runtime: body.runtime,
        methodId: body.methodId,
        grid: body.grid,
        createdAt: now,
      })
      .returning({ id: experiments.id })
      .get();
    const runIds: number[] = [];
    // 100 rows per INSERT keeps each statement well under SQLite's bound-parameter limit.
    for (let i = 0; i < points.length; i += 100) {
      const ids = t
        .insert(runs)
        .values(
          points.slice(i, i + 100).map((params) => ({
            experimentId: exp.id,
            methodId: method!.id,
            family: method!.family,
            params,
            modelId: body.modelId,
            datasetId: body.datasetId,
            runtime: body.runtime,
            status: "queued" as const,
            seed: body.seed,
            createdAt: now,
            updatedAt: now,
          })),
        )
        .returning({ id: runs.id })
        .all();
      runIds.push(...ids.map((r) => r.id));
    }
    for (let i = 0; i < runIds.length; i += 200) {
      t.insert(runEvents)
        .values(runIds.slice(i, i + 200).map((runId) => ({ runId, ts: now, level: "status" as const, message: `queued by experiment ${exp.id}` })))
        .run();
    }
    return { id: exp.id, runIds };
  });
}

interface RawExperiment {
  id: number;
  name: string;
  description: string | null;
  model_id: string;
  dataset_id: string;
  runtime: string;
  method_id: string;
  grid: string;
  created_at: number;
}

function statusCounts(tx: Tx, experimentIds: number[]): Map<number, StatusCounts> {
  const out = new Map<number, StatusCounts>(experimentIds.map((id) => [id, {}]));
  if (experimentIds.length === 0) return out;
  const rows = tx.all<{ experiment_id: number; status: keyof StatusCounts; n: number }>(sql`SELECT experiment_id, status, count(*) AS n FROM runs
    WHERE experiment_id IN (${sql.join(
      experimentIds.map((id) => sql`${id}`),
      sql`, `,
    )}) GROUP BY experiment_id, status`);
  for (const r of rows) out.get(r.experiment_id)![r.status] = r.n;
  return out;
}

function toExperimentRow(e: RawExperiment, counts: StatusCounts): ExperimentRow {
  return {
    id: e.id,
    name: e.name,
    description: e.description,
    modelId: e.model_id,
    datasetId: e.dataset_id,
    runtime: e.runtime,
    methodId: e.method_id,
    family: getMethod(e.method_id)?.family ?? null,
    grid: JSON.parse(e.grid) as Record<string, unknown[]>,
    createdAt: e.created_at,
    runCount: Object.values(counts).reduce((a, b) => a + (b ?? 0), 0),
    statusCounts: counts,
  };
}

/** Every experiment, newest first, with its runs counted by status. */
export function listExperiments(tx: Tx = getDb()): ExperimentRow[] {
  const rows = tx.all<RawExperiment>(sql`SELECT * FROM experiments ORDER BY id DESC`);
  const counts = statusCounts(
    tx,
    rows.map((r) => r.id),
  );
  return rows.map((r) => toExperimentRow(r, counts.get(r.id)!));
}

/** One experiment with a summary of each of its runs. */
export function getExperiment(id: number, tx: Tx = getDb()): ExperimentDetail {
  reapBeforeRead(tx);
  const e = tx.get<RawExperiment>(sql`SELECT * FROM experiments WHERE id = ${id}`);
  if (!e) throw notFound(`experiment ${id}`);
  const rs = tx.all<{
    id: number;
    params: string;
    status: ExperimentDetail["runs"][number]["status"];
    stage: string | null;
    progress: number | null;
    attempts: number;
    error: string | null;
    hardware_key: string | null;
    created_at: number;
    started_at: number | null;
    finished_at: number | null;
  }>(sql`SELECT id, params, status, stage, progress, attempts, error, hardware_key, created_at, started_at, finished_at
    FROM runs WHERE experiment_id = ${id} ORDER BY id`);
  const metrics = metricsByRun(
    rs.map((r) => r.id),
    tx,
  );
  const counts = statusCounts(tx, [id]);
  return {
    experiment: toExperimentRow(e, counts.get(id)!),
    runs: rs.map((r) => ({
      id: r.id,
      params: JSON.parse(r.params) as Record<string, unknown>,
      status: r.status,
      stage: r.stage,
      progress: r.progress,
      attempts: r.attempts,
      error: r.error,
      hardwareKey: r.hardware_key,
      createdAt: r.created_at,
      startedAt: r.started_at,
      finishedAt: r.finished_at,
      metrics: metrics.get(r.id)!,
    })),
  };
}
