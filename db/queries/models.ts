import fs from "node:fs";
import path from "node:path";
import { and, asc, eq } from "drizzle-orm";
import { getDb, type Tx } from "../client";
import { artifacts, models, runs } from "../schema";
import { conflict, invalid } from "../../lib/errors";
import type { ModelRow } from "../../lib/schemas/models";
import type { RegisterModelBody } from "../../lib/schemas/models";
import { confinedPath, displayPath, displayRoots, hashFile, modelRoots, publicRows, statOrNull } from "./files";

/** Whether anything (a dangling symlink included) sits at `p`. */
function lexists(p: string): boolean {
  try {
    fs.lstatSync(p);
    return true;
  } catch {
    return false;
  }
}

/** Registered models as the API shows them: stored server paths relative to their root. */
export function listModels(tx: Tx = getDb()): ModelRow[] {
  return publicRows(tx.select().from(models).orderBy(asc(models.id)).all(), publicModel);
}

/** A model row without absolute server paths (lease data keeps them: workers read the files). */
export function publicModel(m: ModelRow, roots: string[] = displayRoots()): ModelRow {
  return { ...m, files: Object.fromEntries(Object.entries(m.files).map(([k, v]) => [k, displayPath(v, roots)])) };
}

export function getModel(id: string, tx: Tx = getDb()): ModelRow | undefined {
  return tx.select().from(models).where(eq(models.id, id)).get();
}

const bad = (field: string, message: string) => invalid("invalid request", [{ field, message }]);

/** The one answer for every unusable path, so a refusal tells nothing about the server's disk. */
export const MODEL_PATH_REFUSED = "path is not a readable model directory under the configured roots";

/**
 * Registers a model directory in the optimum decoder layout. Every file read is resolved through
 * symlinks and must stay under the configured roots (FRONTIER_MODEL_ROOTS); the directory is checked
 * before anything is written: model.onnx must be an ONNX protobuf, tokenizer.json must be JSON.
 */
/**
 * The model directory a succeeded run wrote (its "model" artifact's directory, which holds the
 * output model with the base model's tokenizer.json and config.json) and what it was derived from.
 */
function runModelDir(runId: number, tx: Tx): { dir: string; derivedFrom: Record<string, unknown> } {
  const run = tx.select().from(runs).where(eq(runs.id, runId)).get();
  if (!run) throw bad("fromRun", `run ${runId} does not exist`);
  if (run.status !== "succeeded") throw bad("fromRun", `run ${runId} is ${run.status}: only a succeeded run's model can be registered`);
  const art = tx
    .select()
    .from(artifacts)
    .where(and(eq(artifacts.runId, runId), eq(artifacts.kind, "model")))
    .get();
  if (!art) throw bad("fromRun", `run ${runId} (${run.methodId}) wrote no model: only weight-transforming methods (quantization, pruning) do`);
  return {
    dir: path.dirname(art.path),
    derivedFrom: { run: runId, method: run.methodId, params: run.params, model: run.modelId, dataset: run.datasetId },
  };
}

export async function registerModel(body: RegisterModelBody, tx: Tx = getDb()): Promise<ModelRow> {
  if (getModel(body.id, tx)) throw conflict(`model "${body.id}" is already registered`);
  const from = body.fromRun !== undefined ? runModelDir(body.fromRun, tx) : null;
  const refused = () =>
    bad(from ? "fromRun" : "path", from ? `run ${body.fromRun}'s model files are not readable under the configured roots` : MODEL_PATH_REFUSED);
  const roots = modelRoots();
  const dir = confinedPath(from?.dir ?? body.path ?? "", "dir", roots);
  if (!dir) throw refused();
  const modelFile = confinedPath(path.join(dir, "model.onnx"), "file", roots);
  const tokFile = confinedPath(path.join(dir, "tokenizer.json"), "file", roots);
  if (!modelFile || !tokFile) throw refused();
  /** An optional file: absent is fine, present but unusable (a symlink out of the roots) is refused. */
  const optional = (name: string): string | null => {
    const p = path.join(dir, name);
    if (!lexists(p)) return null;
    const real = confinedPath(p, "file", roots);
    if (!real) throw refused();
    return real;
  };
  const cardFile = optional("card.json");
  const configFile = optional("config.json");
  // optimum names the weights file model.onnx_data; Frontier's own writer model.onnx.data
  const dataName = lexists(path.join(dir, "model.onnx_data")) ? "model.onnx_data" : "model.onnx.data";
  const dataFile = optional(dataName);
  const read = (file: string): Buffer => {
    try {
      return fs.readFileSync(file);
    } catch {
      throw refused();
    }
  };
  // An ONNX ModelProto starts with field 1 (ir_version, varint): tag byte 0x08.
  const head = Buffer.alloc(1);
  let n = 0;
  try {
    const fd = fs.openSync(modelFile, "r");
    try {
      n = fs.readSync(fd, head, 0, 1, 0);
    } finally {
      fs.closeSync(fd);
    }
  } catch {
    throw refused();
  }
  if (n !== 1 || head[0] !== 0x08) throw bad("path", "model.onnx is not an ONNX model (no ir_version field at its start)");
  let tokenizer: unknown;
  const tokText = read(tokFile).toString("utf8");
  try {
    tokenizer = JSON.parse(tokText);
  } catch {
    throw bad("path", "tokenizer.json is not valid JSON");
  }
  if (typeof tokenizer !== "object" || tokenizer === null || !("model" in tokenizer)) {
    throw bad("path", 'tokenizer.json has no "model" section (expected a Hugging Face tokenizers file)');
  }
  let card: Record<string, unknown> | null = null;
  if (cardFile) {
    const cardText = read(cardFile).toString("utf8");
    try {
      card = JSON.parse(cardText) as Record<string, unknown>;
    } catch {
      throw bad("path", "card.json is not valid JSON");
    }
  }
  if (configFile) read(configFile);
  if (from) card = { ...(card ?? {}), derived_from: from.derivedFrom };
  let hashed: { sha256: string; bytes: number };
  try {
    hashed = await hashFile(modelFile);
  } catch {
    throw refused();
  }
  const { sha256, bytes } = hashed;
  const dataBytes = dataFile ? (statOrNull(dataFile)?.size ?? 0) : 0;
  const files: Record<string, string> = { dir, model: "model.onnx", tokenizer: "tokenizer.json" };
  if (dataBytes > 0) files.data = dataName;
  if (card) files.card = "card.json";
  if (configFile) files.config = "config.json";
  const params = typeof card?.params === "number" ? card.params : null;
  const row = tx.transaction((t) => {
    if (getModel(body.id, t)) throw conflict(`model "${body.id}" is already registered`);
    return t
      .insert(models)
      .values({ id: body.id, name: body.name ?? body.id, kind: body.kind, source: "path", files, sha256, params, bytes: bytes + dataBytes, card })
      .returning()
      .get();
  });
  return publicModel(row);
}
