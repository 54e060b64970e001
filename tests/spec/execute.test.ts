/**
 * spec.draft through the job executor (workers/execute.ts), as a worker runs it: the draft model
 * arrives with the lease (spec.models), a vocabulary mismatch is refused with a message naming both
 * models, and bad params are refused before any decoding. (A whole run is in api-sweep.test.ts.)
 */
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { evalSettings, executeJob, type EngineOptions, DEFAULT_ENGINE } from "../../workers/execute";
import { writeDecoder } from "../../workers/onnx/decoder-builder";
import type { JobReporter, JobSpec, ModelRef } from "../../workers/types";
import { checkSameVocabulary } from "../../workers/methods/speculative/candidates";
import { ZOO } from "./helpers";

let dir: string;
let copyFile: string;
const engine: EngineOptions = {
  quality: { maxExamples: 8, maxTokensPerText: 64 },
  bench: { ...DEFAULT_ENGINE.bench, promptLength: 16, decodeTokens: 4, warmup: 1, repeats: 3 },
};
const reporter: JobReporter = { stage: () => {}, progress: () => {}, log: () => {} };

const zooRef = (id: string): ModelRef => ({
  id,
  kind: "decoder-lm",
  source: "zoo",
  files: { dir: path.join(ZOO, id), model: "model.onnx", tokenizer: "tokenizer.json", config: "config.json" },
  sha256: null,
  card: null,
});

function job(params: Record<string, unknown>, models: ModelRef[], methodId = "spec.draft"): JobSpec {
  return {
    runId: 1,
    methodId,
    params,
    model: zooRef("zoo-base"),
    models,
    dataset: { id: "copy-small", task: "exact-match", file: copyFile, sha256: null },
    calibration: null,
    runtime: "cpu",
    seed: 3,
    workDir: path.join(dir, "work"),
    dataDir: dir,
    // a matching baseline, so the job does not measure its own first
    baseline: { runId: 0, metrics: { exact_match: 0.5, ...evalSettings(engine) } },
  };
}

beforeAll(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), "frontier-spec-"));
  copyFile = path.join(dir, "copy-small.jsonl");
  fs.writeFileSync(
    copyFile,
    fs
      .readFileSync(path.join(ZOO, "datasets", "copy-test.jsonl"), "utf8")
      .split("\n")
      .slice(0, 40)
      .join("\n"),
  );
  writeDecoder(
    path.join(dir, "other-vocab"),
    { vocab_size: 300, num_layers: 1, num_heads: 2, num_kv_heads: 2, hidden_size: 32, intermediate_size: 64, max_position: 128 },
    { seed: 3 },
  );
});
afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

describe("spec.draft as a job", () => {
  it("refuses a draft whose vocabulary differs from the target's, naming both", async () => {
    const other: ModelRef = { ...zooRef("other-vocab"), source: "path", files: { dir: path.join(dir, "other-vocab"), model: "model.onnx" } };
    await expect(executeJob(job({ draft_model: "other-vocab" }, [other]), reporter, engine)).rejects.toThrow(
      /draft model other-vocab has a vocabulary of 300 tokens and the target zoo-base one of 640: a draft model must share the target's tokenizer/,
    );
  });

  it("refuses a tokenizer with other tokens even at the same size", () => {
    const tj = JSON.parse(fs.readFileSync(path.join(ZOO, "tokenizer.json"), "utf8"));
    const vocab = tj.model.vocab as Record<string, number>;
    const [a, b] = Object.keys(vocab);
    [vocab[a], vocab[b]] = [vocab[b], vocab[a]];
    const swapped = path.join(dir, "swapped-tokenizer.json");
    fs.writeFileSync(swapped, JSON.stringify(tj));
    const zooTok = path.join(ZOO, "tokenizer.json");
    expect(() =>
      checkSameVocabulary({ id: "zoo-base", vocabSize: 640, tokenizerPath: zooTok }, { id: "mine", vocabSize: 640, tokenizerPath: swapped }),
    ).toThrow(/draft model mine has a different tokenizer from the target zoo-base/);
    expect(() =>
      checkSameVocabulary({ id: "zoo-base", vocabSize: 640, tokenizerPath: zooTok }, { id: "zoo-draft", vocabSize: 640, tokenizerPath: zooTok }),
    ).not.toThrow();
  });

  it("says so when the lease did not carry the draft model", async () => {
    await expect(executeJob(job({ draft_model: "zoo-small" }, []), reporter, engine)).rejects.toThrow(/model zoo-small named in the params was not sent/);
  });

  it("refuses sampling at temperature 0", async () => {
    await expect(
      executeJob(job({ draft_model: "zoo-draft", verification: "sampling", temperature: 0 }, [zooRef("zoo-draft")]), reporter, engine),
    ).rejects.toThrow(/sampling verification needs temperature > 0/);
  });
});
