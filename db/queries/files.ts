import crypto from "node:crypto";
import fs from "node:fs";
import path from "node:path";
import { envSetting } from "../../lib/env";

/** SHA-256 (hex) and size of a file, streamed so a multi-GB model never sits in memory. */
export async function hashFile(file: string): Promise<{ sha256: string; bytes: number }> {
  const hash = crypto.createHash("sha256");
  let bytes = 0;
  for await (const chunk of fs.createReadStream(file)) {
    hash.update(chunk as Buffer);
    bytes += (chunk as Buffer).length;
  }
  return { sha256: hash.digest("hex"), bytes };
}

/** stat that answers null for a missing path instead of throwing. */
export function statOrNull(p: string): fs.Stats | null {
  try {
    return fs.statSync(p);
  } catch {
    return null;
  }
}

/** `p` is `root` or lies inside it (both already resolved). */
function within(root: string, p: string): boolean {
  const rel = path.relative(root, p);
  return rel === "" || (!rel.startsWith("..") && !path.isAbsolute(rel));
}

function realOrNull(p: string): string | null {
  try {
    return fs.realpathSync(p);
  } catch {
    return null;
  }
}

const configuredRoots = () => (envSetting("FRONTIER_MODEL_ROOTS") ?? ["zoo", envSetting("FRONTIER_DATA_DIR")]).map((r) => path.resolve(r));

/**
 * The directories models and datasets may be registered from (FRONTIER_MODEL_ROOTS; default the
 * repository's zoo/ and the data directory), each resolved through symlinks; a missing one is skipped.
 */
export function modelRoots(): string[] {
  const roots: string[] = [];
  for (const r of configuredRoots()) {
    const real = realOrNull(path.resolve(r));
    if (real && !roots.includes(real)) roots.push(real);
  }
  return roots;
}

/**
 * The real path of `p` (symlinks followed) when it is a `kind` that this process can read and that
 * lies under one of `roots`; null otherwise, so every refusal looks the same to the caller.
 */
export function confinedPath(p: string, kind: "file" | "dir", roots: string[]): string | null {
  const real = realOrNull(path.resolve(p));
  if (!real || !roots.some((r) => within(r, real))) return null;
  try {
    const st = fs.statSync(real);
    if (kind === "file" ? !st.isFile() : !st.isDirectory()) return null;
    fs.accessSync(real, kind === "file" ? fs.constants.R_OK : fs.constants.R_OK | fs.constants.X_OK);
  } catch {
    return null;
  }
  return real;
}

/**
 * A stored server path as an API response shows it: relative to the root it lies under, or just its
 * name when it lies under none (a row from before the roots were configured). Relative values pass.
 */
export function displayPath(p: string, roots: string[] = displayRoots()): string {
  if (!path.isAbsolute(p)) return p;
  const root = roots.find((r) => within(r, p));
  return root ? path.relative(root, p) || "." : path.basename(p);
}

/** The roots as configured and as resolved through symlinks: a stored path may use either spelling. */
export function displayRoots(): string[] {
  return [...new Set([...modelRoots(), ...configuredRoots()])];
}

/** Rows as the API shows them: `toPublic` replaces each stored absolute path by one relative to its root. */
export function publicRows<T>(rows: T[], toPublic: (row: T, roots: string[]) => T): T[] {
  const roots = displayRoots();
  return rows.map((r) => toPublic(r, roots));
}
