/**
 * Baseline pairing on a real SQLite file: a run is compared only with a baseline measured on the
 * same model, dataset, runtime, hardware, seed, onnxruntime version and evaluation settings. The
 * lease attaches the latest one matching what the server knows (the worker checks the settings it
 * alone knows); completion records the one matching everything, or the fresh one the job measured.
 */
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { eq } from "drizzle-orm";
import { openDb, type Db } from "../../db/client";
import { datasets, models, runMetrics, runs } from "../../db/schema";
import { registerWorker, type WorkerRow } from "../../db/queries/workers";
import { workers } from "../../db/schema";
import { baselineFor, claimRun, completeRun } from "../../db/queries/leases";
import { hardwareKey } from "../../lib/hardware";
import type { HardwareFingerprint } from "../../lib/schemas/workers";

const ORT = "onnxruntime-node@1.30.0";
const fp = (ortVersion = ORT): HardwareFingerprint => ({
  runtime: "cpu",
  ortVersion,
  cpuModel: "Test CPU",
  cpuCores: 2,
  memoryBytes: 8e9,
  platform: "linux",
  nodeVersion: "v20.0.0",
});
const HW = hardwareKey(fp());
const SETTINGS = { eval_max_examples: 200, eval_max_tokens_per_text: 512, bench_prompt_length: 128, bench_decode_tokens: 32 };

let dir: string;
let db: Db;
let worker: WorkerRow;
let t = 1_000;

function baseline(over: { seed?: number | null; ortVersion?: string; settings?: Record<string, number>; model?: string } = {}): number {
  const id = db
    .insert(runs)
    .values({
      methodId: "baseline",
      family: "baseline",
      params: {},
      modelId: over.model ?? "m",
      datasetId: "d",
      runtime: "cpu",
      hardware: fp(over.ortVersion),
      hardwareKey: HW,
      status: "succeeded",
      seed: over.seed === undefined ? 1 : over.seed,
      finishedAt: ++t,
    })
    .returning({ id: runs.id })
    .get().id;
  const metrics = { perplexity: 10, model_bytes: 4e6, ...(over.settings ?? SETTINGS) };
  db.insert(runMetrics)
    .values(Object.entries(metrics).map(([key, value]) => ({ runId: id, key, value })))
    .run();
  return id;
}

const key = (over: Partial<Parameters<typeof baselineFor>[0]> = {}) => ({
  modelId: "m",
  datasetId: "d",
  runtime: "cpu",
  hardwareKey: HW,
  seed: 1,
  ortVersion: ORT,
  settings: SETTINGS,
  ...over,
});

beforeAll(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), "frontier-pairing-"));
  db = openDb(path.join(dir, "test.db"));
  db.insert(models)
    .values({ id: "m", name: "m", kind: "decoder-lm", source: "path", files: { dir, model: "model.onnx" } })
    .run();
  db.insert(datasets)
    .values({ id: "d", name: "d", task: "perplexity", file: path.join(dir, "d.jsonl") })
    .run();
  const { workerId } = registerWorker({ name: "w", capabilities: { runtimes: ["cpu"] }, hardware: { cpu: fp() } }, db);
  worker = db.select().from(workers).where(eq(workers.id, workerId)).get()!;
});
afterAll(() => {
  db.$client.close();
  fs.rmSync(dir, { recursive: true, force: true });
});
beforeEach(() => {
  db.delete(runMetrics).run();
  db.delete(runs).run();
});

describe("baselineFor", () => {
  it("pairs only a baseline with the same seed, onnxruntime version and evaluation settings", () => {
    const match = baseline();
    baseline({ seed: 2 });
    baseline({ ortVersion: "onnxruntime-node@1.22.0" });
    baseline({ settings: { ...SETTINGS, bench_decode_tokens: 16 } });
    baseline({ settings: { ...SETTINGS, eval_max_examples: 50 } });
    baseline({ settings: { perplexity: 10 } }); // measured before settings were recorded
    baseline({ model: "other" });
    expect(baselineFor(key(), db)?.runId).toBe(match);
  });

  it("finds nothing when only mismatched baselines exist, so the job measures a fresh one", () => {
    const seed = baseline({ seed: 2 });
    const ort = baseline({ ortVersion: "onnxruntime-node@1.22.0" });
    const settings = baseline({ settings: { ...SETTINGS, eval_max_tokens_per_text: 64 } });
    expect(baselineFor(key(), db)).toBeNull();
    expect(baselineFor(key({ seed: 2 }), db)?.runId).toBe(seed);
    expect(baselineFor(key({ ortVersion: "onnxruntime-node@1.22.0" }), db)?.runId).toBe(ort);
    expect(baselineFor(key({ settings: { ...SETTINGS, eval_max_tokens_per_text: 64 } }), db)?.runId).toBe(settings);
    // Without settings (the lease: the worker checks them) any settings match; the latest wins.
    expect(baselineFor(key({ seed: 2, settings: undefined }), db)?.runId).toBe(seed);
  });
});

describe("lease and completion", () => {
  const queue = (seed: number) =>
    db
      .insert(runs)
      .values({ methodId: "quant.rtn", family: "quantization", params: { bits: 4 }, modelId: "m", datasetId: "d", runtime: "cpu", seed })
      .returning({ id: runs.id })
      .get().id;

  it("the lease attaches no baseline of another seed or onnxruntime version", () => {
    baseline({ seed: 2 });
    baseline({ ortVersion: "onnxruntime-node@1.22.0" });
    const id = queue(1);
    const leased = claimRun(worker, ["cpu"], db, { now: ++t, root: dir })!;
    expect(leased.runId).toBe(id);
    expect(leased.baseline).toBeNull();
    const good = baseline();
    const id2 = queue(1);
    const leased2 = claimRun(worker, ["cpu"], db, { now: ++t, root: dir })!;
    expect(leased2.runId).toBe(id2);
    expect(leased2.baseline?.runId).toBe(good);
    expect(leased2.baseline?.metrics.bench_decode_tokens).toBe(32);
  });

  it("completion pairs by the run's own settings, or stores the fresh baseline the job measured", () => {
    const other = baseline({ settings: { ...SETTINGS, bench_prompt_length: 64 } });
    const id = queue(1);
    const leased = claimRun(worker, ["cpu"], db, { now: ++t, root: dir })!;
    expect(leased.baseline?.runId).toBe(other); // the worker sees bench_prompt_length 64 and measures afresh
    const metrics = { perplexity: 11, model_bytes: 1e6, ...SETTINGS };
    const done = completeRun(
      id,
      worker,
      { leaseToken: leased.leaseToken, metrics, artifacts: [], hardware: fp(), baselineMetrics: { perplexity: 10, ...SETTINGS }, notes: [] },
      db,
      { now: ++t },
    );
    expect(done.baselineRunId).not.toBe(other);
    const fresh = db.select().from(runs).where(eq(runs.id, done.baselineRunId!)).get()!;
    expect(fresh).toMatchObject({ methodId: "baseline", seed: 1, tags: ["auto-baseline"] });
    expect((fresh.hardware as HardwareFingerprint).ortVersion).toBe(ORT);

    // A later run measured with the same settings pairs with that fresh baseline, not the other one.
    const id2 = queue(1);
    const leased2 = claimRun(worker, ["cpu"], db, { now: ++t, root: dir })!;
    expect(leased2.baseline?.runId).toBe(fresh.id);
    const done2 = completeRun(id2, worker, { leaseToken: leased2.leaseToken, metrics, artifacts: [], hardware: fp(), notes: [] }, db, { now: ++t });
    expect(done2.baselineRunId).toBe(fresh.id);

    // Completed under another onnxruntime version than any baseline: no pairing at all.
    const id3 = queue(1);
    const leased3 = claimRun(worker, ["cpu"], db, { now: ++t, root: dir })!;
    const done3 = completeRun(id3, worker, { leaseToken: leased3.leaseToken, metrics, artifacts: [], hardware: fp("onnxruntime-node@1.31.0"), notes: [] }, db, {
      now: ++t,
    });
    expect(done3.baselineRunId).toBeNull();
  });
});
