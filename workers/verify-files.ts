import fs from "node:fs";
import { sha256File } from "./hash";

/**
 * Fails when `file` no longer has the sha256 recorded when it was registered: a model or dataset
 * edited or swapped on disk since then would give figures that belong to neither. No recorded
 * sha256 (a row from before hashing, a shape model) means nothing to check.
 */
export async function verifyRegisteredFile(what: "model" | "dataset", id: string, file: string, expected: string | null | undefined): Promise<void> {
  if (!expected || !fs.existsSync(file)) return; // a missing file is reported by whatever reads it
  const actual = sha256File(file);
  if (actual !== expected) {
    throw new Error(
      `${what} ${id}: ${what} file changed since registration (sha256 ${actual.slice(0, 12)}, registered ${expected.slice(0, 12)}); register it again under a new id`,
    );
  }
}
