import crypto from "node:crypto";
import fs from "node:fs";
import path from "node:path";
import { getDb, type Db } from "../client";
import { models, datasets } from "../schema";
import type { DatasetTask } from "../../lib/domain";

/** One line of zoo/datasets/manifest.json (written by the zoo build, scripts/zoo-train.ts). */
interface ManifestEntry {
  id: string;
  name: string;
  task: DatasetTask;
  split: string;
  file: string;
  description: string;
}

function sha256(file: string): string {
  return crypto.createHash("sha256").update(fs.readFileSync(file)).digest("hex");
}

/**
 * Registers the models and datasets shipped in zoo/ (idempotent): a missing row is inserted, an
 * existing one is brought up to date with the files on disk (a rebuilt zoo changes the hashes), so
 * every start leaves exactly one row per bundled model and dataset.
 */
export function registerBundled(root: string, db: Db = getDb()): { models: number; datasets: number } {
  const zoo = path.join(root, "zoo");
  if (!fs.existsSync(zoo)) return { models: 0, datasets: 0 };
  let modelCount = 0;
  let datasetCount = 0;
  db.transaction((tx) => {
    for (const entry of fs.readdirSync(zoo, { withFileTypes: true }).sort((a, b) => a.name.localeCompare(b.name))) {
      if (!entry.isDirectory()) continue;
      const dir = path.join(zoo, entry.name);
      const modelFile = path.join(dir, "model.onnx");
      const cardFile = path.join(dir, "card.json");
      if (!fs.existsSync(modelFile) || !fs.existsSync(cardFile)) continue;
      const card = JSON.parse(fs.readFileSync(cardFile, "utf8")) as Record<string, unknown>;
      const files: Record<string, string> = { dir, model: "model.onnx", tokenizer: "tokenizer.json", card: "card.json" };
      if (fs.existsSync(path.join(dir, "config.json"))) files.config = "config.json";
      let bytes = fs.statSync(modelFile).size;
      if (fs.existsSync(`${modelFile}.data`)) {
        files.data = "model.onnx.data";
        bytes += fs.statSync(`${modelFile}.data`).size;
      }
      const row = {
        name: entry.name,
        kind: "decoder-lm" as const,
        source: "zoo" as const,
        files,
        sha256: sha256(modelFile),
        params: typeof card.params === "number" ? card.params : null,
        bytes,
        card,
      };
      tx.insert(models)
        .values({ id: entry.name, ...row })
        .onConflictDoUpdate({ target: models.id, set: row })
        .run();
      modelCount++;
    }
    const manifestFile = path.join(zoo, "datasets", "manifest.json");
    if (fs.existsSync(manifestFile)) {
      const manifest = JSON.parse(fs.readFileSync(manifestFile, "utf8")) as ManifestEntry[];
      for (const d of manifest) {
        const file = path.join(zoo, "datasets", d.file);
        if (!fs.existsSync(file)) throw new Error(`zoo/datasets/manifest.json lists ${d.file}, which is missing`);
        const row = {
          name: d.name,
          task: d.task,
          file,
          sha256: sha256(file),
          size: fs.statSync(file).size,
          split: d.split,
          description: d.description,
        };
        tx.insert(datasets)
          .values({ id: d.id, ...row })
          .onConflictDoUpdate({ target: datasets.id, set: row })
          .run();
        datasetCount++;
      }
    }
  });
  return { models: modelCount, datasets: datasetCount };
}
