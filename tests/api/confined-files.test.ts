import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { GET as getDatasets, POST as postDataset } from "@/app/api/v1/datasets/route";
import { GET as getModels, POST as postModel } from "@/app/api/v1/models/route";
import { getDataset } from "@/db/queries/datasets";
import { getModel } from "@/db/queries/models";
import { executeJob } from "@/workers/execute";
import type { JobReporter, ModelRef } from "@/workers/types";
import { perplexityJob, writeBigramModel, writeJsonl } from "../engine/fixtures";
import { call, cleanup, count, fields, freshDb, writeModelDir } from "./helpers";

const MODEL_REFUSED = "path is not a readable model directory under the configured roots";
const DATASET_REFUSED = "path is not a readable dataset file under the configured roots";

// `root` is the configured root (freshDb sets FRONTIER_MODEL_ROOTS to it); `outside` is not under it.
let root: string;
let outside: string;
let secret: string;
beforeAll(() => {
  root = freshDb();
  outside = fs.mkdtempSync(path.join(os.tmpdir(), "frontier-outside-"));
  secret = path.join(outside, "credentials.json");
  fs.writeFileSync(secret, JSON.stringify({ params: 7, token: "s3cret-token-value" }), { mode: 0o600 });
});
afterAll(() => {
  cleanup(root);
  fs.rmSync(outside, { recursive: true, force: true });
});

const postM = (id: string, p: string) => call(postModel, "POST", "/api/v1/models", { body: { id, path: p } });
const postD = (id: string, p: string) => call(postDataset, "POST", "/api/v1/datasets", { body: { id, task: "perplexity", path: p } });

function expectRefused(r: { status: number; json: any; text: string }, message: string) {
  expect(r.status).toBe(400);
  expect(fields(r.json)).toEqual(["path"]);
  expect(r.json.details[0].message).toBe(message);
  expect(r.text).not.toContain(root);
  expect(r.text).not.toContain(outside);
}

describe("model registration stays under the configured roots", () => {
  it("refuses a card.json that is a symlink to a file outside the roots, and never shows its contents", async () => {
    const d = writeModelDir(root, "linked-card");
    fs.symlinkSync(secret, path.join(d, "card.json"));
    expectRefused(await postM("linked-card", d), MODEL_REFUSED);
    expect(count("models")).toBe(0);
    const list = await call(getModels, "GET", "/api/v1/models");
    expect(list.text).not.toContain("s3cret-token-value");
  });

  it.each([
    [
      "a tokenizer.json symlinked out of the roots",
      "tok",
      (d: string) => (fs.rmSync(path.join(d, "tokenizer.json")), fs.symlinkSync(secret, path.join(d, "tokenizer.json"))),
    ],
    ["a config.json symlinked out of the roots", "cfg", (d: string) => fs.symlinkSync(secret, path.join(d, "config.json"))],
    ["a dangling card.json symlink", "dangling", (d: string) => fs.symlinkSync(path.join(outside, "nope"), path.join(d, "card.json"))],
  ])("refuses %s", async (_what, id, tamper) => {
    const d = writeModelDir(root, id);
    tamper(d);
    expectRefused(await postM(id, d), MODEL_REFUSED);
  });

  it("answers every unusable path with the same 400, naming nothing on disk", async () => {
    const outsideModel = writeModelDir(outside, "real-model");
    const link = path.join(root, "link-out");
    fs.symlinkSync(outsideModel, link);
    const file = path.join(writeModelDir(root, "f"), "model.onnx");
    const noModel = writeModelDir(root, "no-model");
    fs.rmSync(path.join(noModel, "model.onnx"));
    for (const p of [path.join(root, "missing"), outsideModel, link, file, noModel, "/etc", "/etc/passwd", "/root", "../../.."]) {
      expectRefused(await postM("bad", p), MODEL_REFUSED);
    }
    expect(count("models")).toBe(0);
  });

  it.skipIf(process.getuid?.() === 0)("refuses an unreadable card.json with the same 400 (not a 500)", async () => {
    const d = writeModelDir(root, "unreadable");
    fs.writeFileSync(path.join(d, "card.json"), "{}", { mode: 0o000 });
    expectRefused(await postM("unreadable", d), MODEL_REFUSED);
  });

  it("shows registered paths relative to their root, in the response and the list", async () => {
    const d = writeModelDir(root, "good");
    fs.writeFileSync(path.join(d, "card.json"), JSON.stringify({ params: 12 }));
    const r = await postM("good", d);
    expect(r.status).toBe(201);
    expect(r.json.files).toMatchObject({ dir: "good", model: "model.onnx", card: "card.json" });
    expect(r.text).not.toContain(root);
    const list = await call(getModels, "GET", "/api/v1/models");
    expect(list.json.models.map((m: { id: string }) => m.id)).toEqual(["good"]);
    expect(list.text).not.toContain(fs.realpathSync(root));
    expect(list.text).not.toContain(root);
    // the stored row keeps the real path the workers read
    expect(getModel("good")!.files.dir).toBe(fs.realpathSync(d));
  });
});

describe("dataset registration stays under the configured roots", () => {
  it("refuses a symlink out of the roots, a missing file and a directory with one 400", async () => {
    const outsideData = writeJsonl(path.join(outside, "d.jsonl"), [{ text: "hello" }]);
    const link = path.join(root, "linked.jsonl");
    fs.symlinkSync(outsideData, link);
    for (const p of [link, outsideData, path.join(root, "missing.jsonl"), root, "/etc/passwd"]) {
      expectRefused(await postD("bad", p), DATASET_REFUSED);
    }
    expect(count("datasets")).toBe(0);
  });

  it("registers a file under a root and shows it relative to the root", async () => {
    const f = writeJsonl(path.join(root, "ok.jsonl"), [{ text: "hello world" }]);
    const r = await postD("ok", f);
    expect(r.status).toBe(201);
    expect(r.json.file).toBe("ok.jsonl");
    const list = await call(getDatasets, "GET", "/api/v1/datasets");
    expect(list.json.datasets).toMatchObject([{ id: "ok", file: "ok.jsonl" }]);
    expect(list.text).not.toContain(root);
    expect(list.text).not.toContain(fs.realpathSync(root));
  });
});

describe("workers check the sha256 recorded at registration", () => {
  const reporter: JobReporter = { stage: () => {}, progress: () => {}, log: () => {} };
  const refOf = (id: string): ModelRef => {
    const m = getModel(id)!;
    return { id: m.id, kind: m.kind, source: m.source, files: m.files, sha256: m.sha256, card: m.card };
  };
  const datasetOf = (id: string) => {
    const d = getDataset(id)!;
    return { id: d.id, task: d.task, file: d.file, sha256: d.sha256 };
  };

  beforeAll(async () => {
    const d = path.join(root, "bigram");
    writeBigramModel(d);
    fs.copyFileSync(path.resolve("zoo/tokenizer.json"), path.join(d, "tokenizer.json"));
    expect((await postM("bigram", d)).status).toBe(201);
    const f = writeJsonl(path.join(root, "text.jsonl"), [{ text: "abcdefgh" }, { text: "ijklmnop" }]);
    expect((await postD("text", f)).status).toBe(201);
  });

  it("fails a run whose dataset file was swapped after registration", async () => {
    const ds = datasetOf("text");
    expect(ds.sha256).toMatch(/^[0-9a-f]{64}$/);
    writeJsonl(ds.file, [{ text: "something else entirely" }]);
    const spec = { ...perplexityJob(refOf("bigram"), ds, path.join(root, "work")), dataset: ds };
    await expect(executeJob(spec, reporter)).rejects.toThrow(/dataset text: dataset file changed since registration/);
  });

  it("fails a run whose model file was changed after registration", async () => {
    const ref = refOf("bigram");
    const file = path.join(ref.files.dir!, "model.onnx");
    fs.appendFileSync(file, Buffer.from([0]));
    const f = writeJsonl(path.join(root, "fresh.jsonl"), [{ text: "abcdefgh" }]);
    await expect(executeJob(perplexityJob(ref, { id: "fresh", file: f }, path.join(root, "work")), reporter)).rejects.toThrow(
      /model bigram: model file changed since registration/,
    );
  });
});
