/**
 * `npm run backup -- --out FILE [--db FILE]`: a consistent copy of the Frontier database (VACUUM
 * INTO), safe to take while the server runs. The source defaults to FRONTIER_DB; FILE must not exist.
 * Restore by stopping the server and putting the copy in place of the database file (no -wal/-shm beside it).
 */
import { parseArgs } from "node:util";
import { backupDatabase } from "../db/backup";
import { dbPath } from "../db/client";

const { values } = parseArgs({ options: { out: { type: "string" }, db: { type: "string" } }, strict: true });
if (!values.out) {
  console.error("usage: npm run backup -- --out FILE [--db FILE]");
  process.exit(2);
}
try {
  const source = values.db ?? dbPath();
  const { bytes, runs } = backupDatabase(source, values.out);
  console.log(`backed up ${source} to ${values.out} (${bytes} bytes, ${runs} runs)`);
} catch (e) {
  console.error(`backup failed: ${e instanceof Error ? e.message : String(e)}`);
  process.exit(1);
}
