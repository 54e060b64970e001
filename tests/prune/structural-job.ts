import fs from "node:fs";
import path from "node:path";
import { type EngineOptions, executeJob } from "../../workers/execute";
import { Rng } from "../../workers/data/rng";
import type { JobReporter, JobResult, JobSpec } from "../../workers/types";
import { pathModelRef, perplexityJob } from "../engine/fixtures";
import { tmpDir, writeTinyDecoder } from "../quant/decoder-fixture";

const reporter: JobReporter = { stage() {}, progress() {}, log() {} };
const engine: Partial<EngineOptions> = {
  quality: { maxExamples: 12, maxTokensPerText: 64 },
  bench: { promptLength: 16, decodeTokens: 4, warmup: 1, repeats: 2 },
};

/** The tiny decoder with a small text dataset and its validation split, for whole-job runs of the structural pruners. */
export function structuralJobFixture() {
  const root = tmpDir("frontier-structural-");
  const modelDir = writeTinyDecoder(path.join(root, "model")).dir;
  const rng = new Rng(5);
  const words = ["head", "neuron", "layer", "drop", "block", "residual", "cache", "group", "bias", "mean"];
  const lines = Array.from({ length: 50 }, () => JSON.stringify({ text: Array.from({ length: 14 }, () => rng.pick(words)).join(" ") }));
  const datasetFile = path.join(root, "text.jsonl");
  fs.writeFileSync(datasetFile, `${lines.slice(0, 30).join("\n")}\n`);
  const validationFile = path.join(root, "text-validation.jsonl");
  fs.writeFileSync(validationFile, `${lines.slice(30).join("\n")}\n`);
  let runId = 0;
  const run = (methodId: string, params: Record<string, unknown>): Promise<JobResult> => {
    const workDir = path.join(root, `run-${++runId}`);
    fs.mkdirSync(workDir);
    const spec: JobSpec = perplexityJob(pathModelRef("tiny", modelDir), { id: "text", file: datasetFile }, workDir, {
      runId,
      methodId,
      params,
      calibration: { id: "text-validation", task: "perplexity", file: validationFile, sha256: null },
    });

    return executeJob(spec, reporter, engine);
  };
  return { root, modelDir, run, cleanup: () => fs.rmSync(root, { recursive: true, force: true }) };
}
