import Database from "better-sqlite3";
import fs from "node:fs";
import path from "node:path";

/**
 * Writes a consistent copy of the database at `source` to `out` with VACUUM INTO, safe while the
 * server is writing (the copy is one read transaction's snapshot; WAL lets writers go on). The
 * source is opened read-only, so no migration or other write touches it; `out` must not exist and
 * is created 0600. Checks the copy's integrity and returns its size and run count.
 */
export function backupDatabase(source: string, out: string): { bytes: number; runs: number } {
  const target = path.resolve(out);
  if (fs.existsSync(target)) throw new Error(`${target} already exists; refusing to overwrite it`);
  if (!fs.existsSync(source)) throw new Error(`database ${source} does not exist`);
  fs.mkdirSync(path.dirname(target), { recursive: true, mode: 0o700 });
  fs.closeSync(fs.openSync(target, "wx", 0o600));
  const src = new Database(source, { readonly: true, fileMustExist: true });
  try {
    src.pragma("busy_timeout = 5000");
    src.prepare("VACUUM INTO ?").run(target);
  } catch (e) {
    fs.rmSync(target, { force: true });
    throw e;
  } finally {
    src.close();
  }
  const copy = new Database(target, { readonly: true, fileMustExist: true });
  try {
    const check = copy.pragma("integrity_check", { simple: true });
    if (check !== "ok") throw new Error(`backup ${target} failed its integrity check: ${String(check)}`);
    const runs = (copy.prepare("SELECT count(*) AS n FROM runs").get() as { n: number }).n;
    return { bytes: fs.statSync(target).size, runs };
  } finally {
    copy.close();
  }
}
