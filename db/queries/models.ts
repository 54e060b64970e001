import fs from "node:fs";
import path from "node:path";
import { eq, asc } from "drizzle-orm";
import { getDb, type Tx } from "../client";
import { models } from "../schema";
import { conflict, invalid } from "../../lib/errors";
import type { ModelRow } from "../../lib/schemas/models";
import type { RegisterModelBody } from "../../lib/schemas/models";
import { hashFile, statOrNull } from "./files";

export function listModels(tx: Tx = getDb()): ModelRow[] {
  return tx.select().from(models).orderBy(asc(models.id)).all();
}

export function getModel(id: string, tx: Tx = getDb()): ModelRow | undefined {
  return tx.select().from(models).where(eq(models.id, id)).get();
}

const bad = (field: string, message: string) => invalid("invalid request", [{ field, message }]);

/**
 * Registers a model directory in the optimum decoder layout. The directory is checked before
 * anything is written: model.onnx must be an ONNX protobuf, tokenizer.json must be JSON.
 */
export async function registerModel(body: RegisterModelBody, tx: Tx = getDb()): Promise<ModelRow> {
  if (getModel(body.id, tx)) throw conflict(`model "${body.id}" is already registered`);
  const dir = path.resolve(body.path);
  const st = statOrNull(dir);
  if (!st) throw bad("path", `${body.path} does not exist`);
  if (!st.isDirectory()) throw bad("path", `${body.path} is not a directory (expected a folder with model.onnx and tokenizer.json)`);
  const modelFile = path.join(dir, "model.onnx");
  const tokFile = path.join(dir, "tokenizer.json");
  if (!statOrNull(modelFile)?.isFile()) throw bad("path", `${body.path} has no model.onnx`);
  if (!statOrNull(tokFile)?.isFile()) throw bad("path", `${body.path} has no tokenizer.json`);
  // An ONNX ModelProto starts with field 1 (ir_version, varint): tag byte 0x08.
  const head = Buffer.alloc(1);
  const fd = fs.openSync(modelFile, "r");
  const n = fs.readSync(fd, head, 0, 1, 0);
  fs.closeSync(fd);
  if (n !== 1 || head[0] !== 0x08) throw bad("path", "model.onnx is not an ONNX model (no ir_version field at its start)");
  let tokenizer: unknown;
  try {
    tokenizer = JSON.parse(fs.readFileSync(tokFile, "utf8"));
  } catch {
    throw bad("path", "tokenizer.json is not valid JSON");
  }
  if (typeof tokenizer !== "object" || tokenizer === null || !("model" in tokenizer)) {
    throw bad("path", 'tokenizer.json has no "model" section (expected a Hugging Face tokenizers file)');
  }
  let card: Record<string, unknown> | null = null;
  const cardFile = path.join(dir, "card.json");
  if (statOrNull(cardFile)?.isFile()) {
    try {
      card = JSON.parse(fs.readFileSync(cardFile, "utf8")) as Record<string, unknown>;
    } catch {
      throw bad("path", "card.json is not valid JSON");
    }
  }
  const { sha256, bytes } = await hashFile(modelFile);
  const dataFile = path.join(dir, "model.onnx_data");
  const dataBytes = statOrNull(dataFile)?.isFile() ? fs.statSync(dataFile).size : 0;
  const files: Record<string, string> = { dir, model: "model.onnx", tokenizer: "tokenizer.json" };
  if (dataBytes > 0) files.data = "model.onnx_data";
  if (card) files.card = "card.json";
  const params = typeof card?.params === "number" ? card.params : null;
  return tx.transaction((t) => {
    if (getModel(body.id, t)) throw conflict(`model "${body.id}" is already registered`);
    return t
      .insert(models)
      .values({ id: body.id, name: body.name ?? body.id, kind: body.kind, source: "path", files, sha256, params, bytes: bytes + dataBytes, card })
      .returning()
      .get();
  });
}
