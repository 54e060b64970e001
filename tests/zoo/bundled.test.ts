import { describe, it, expect } from "vitest";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { openDb } from "@/db/client";
import { registerBundled } from "@/db/queries/bundled";
import { models, datasets } from "@/db/schema";
import { writeDatasets } from "@/workers/data";

/** A zoo directory of one fake-named model (real files) plus generated datasets. */
function makeRoot(): string {
  const root = fs.mkdtempSync(path.join(os.tmpdir(), "bundled-"));
  const dir = path.join(root, "zoo", "zoo-test");
  fs.mkdirSync(dir, { recursive: true });
  fs.writeFileSync(path.join(dir, "model.onnx"), Buffer.from("not inspected by registration"));
  fs.writeFileSync(path.join(dir, "tokenizer.json"), "{}");
  fs.writeFileSync(path.join(dir, "card.json"), JSON.stringify({ params: 1234, name: "zoo-test" }));
  writeDatasets(path.join(root, "zoo", "datasets"), { seed: 1, recallPairs: 4, examplesPerSplit: 5 });
  return root;
}

describe("registerBundled", () => {
  it("registers zoo models and datasets once, however often it runs", () => {
    const root = makeRoot();
    const db = openDb(path.join(root, "frontier.db"));
    const first = registerBundled(root, db);
    expect(first.models).toBe(1);
    expect(first.datasets).toBe(12);
    registerBundled(root, db);
    registerBundled(root, db);
    const m = db.select().from(models).all();
    expect(m).toHaveLength(1);
    expect(m[0]).toMatchObject({ id: "zoo-test", source: "zoo", kind: "decoder-lm", params: 1234 });
    expect(m[0].files).toMatchObject({ dir: path.join(root, "zoo", "zoo-test"), model: "model.onnx", tokenizer: "tokenizer.json" });
    expect(m[0].sha256).toMatch(/^[0-9a-f]{64}$/);
    const d = db.select().from(datasets).all();
    expect(d).toHaveLength(12);
    const recall = d.find((x) => x.id === "recall-test")!;
    expect(recall).toMatchObject({ task: "recall", split: "test", file: path.join(root, "zoo", "datasets", "recall-test.jsonl") });
    expect(recall.size).toBe(fs.statSync(recall.file).size);
    expect(d.find((x) => x.id === "grammar-mc-validation")!.task).toBe("multiple-choice");

    // a rebuilt model updates its row instead of adding one
    fs.writeFileSync(path.join(root, "zoo", "zoo-test", "model.onnx"), Buffer.from("retrained"));
    registerBundled(root, db);
    const again = db.select().from(models).all();
    expect(again).toHaveLength(1);
    expect(again[0].sha256).not.toBe(m[0].sha256);
    db.$client.close();
  });

  it("registers nothing without a zoo directory", () => {
    const root = fs.mkdtempSync(path.join(os.tmpdir(), "bundled-empty-"));
    const db = openDb(path.join(root, "frontier.db"));
    expect(registerBundled(root, db)).toEqual({ models: 0, datasets: 0 });
    db.$client.close();
  });
});
