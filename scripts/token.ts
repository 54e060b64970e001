/**
 * `npm run token -- <command>`: API tokens and worker tokens of the database FRONTIER_DB names.
 *
 *   create --name NAME      a new API token, printed once (only its SHA-256 is stored)
 *   list                    API tokens: id, name, created, last used, revoked
 *   revoke NAME|ID          revoke an API token (its dashboard sessions end with it)
 *   workers                 enrolled workers: id, name, status (active, revoked, stale), last heard from
 *   revoke-worker ID        revoke a worker's token: its next request is refused with 401
 *   rotate-enroll           write a new enrollment token to FRONTIER_ENROLL_TOKEN_FILE (default DATA_DIR/enroll-token);
 *                           every worker enrolled with the old one must enroll again
 */
import crypto from "node:crypto";
import fs from "node:fs";
import path from "node:path";
import { parseArgs } from "node:util";
import { openDb } from "../db/client";
import { createApiToken, listApiTokens, revokeApiToken } from "../db/queries/auth";
import { listWorkers, revokeWorker } from "../db/queries/workers";
import { envSetting } from "../lib/env";
import { DomainError } from "../lib/errors";

const USAGE = `usage: npm run token -- create --name NAME | list | revoke NAME|ID | workers | revoke-worker ID | rotate-enroll`;

function fail(message: string): never {
  console.error(`token: ${message}`);
  process.exit(1);
}

const { values, positionals } = (() => {
  try {
    return parseArgs({ options: { name: { type: "string" } }, allowPositionals: true, strict: true });
  } catch (e) {
    fail(`${(e as Error).message}\n${USAGE}`);
  }
})();
const [command, arg, ...rest] = positionals;
if (!command) fail(USAGE);
if (rest.length > 0) fail(`unexpected arguments: ${rest.join(" ")}\n${USAGE}`);

const when = (ms: number | null) => (ms === null ? "-" : new Date(ms).toISOString().replace("T", " ").slice(0, 19));
const table = (rows: string[][]) => {
  const widths = rows[0].map((_, i) => Math.max(...rows.map((r) => r[i].length)));
  for (const r of rows) console.log(r.map((c, i) => c.padEnd(widths[i])).join("  "));
};

const db = openDb();
try {
  switch (command) {
    case "create": {
      if (!values.name) fail("create needs --name NAME");
      const t = createApiToken(values.name, db);
      console.log(`created API token ${t.id} "${t.name}"; it is shown only now, keep it somewhere safe:`);
      console.log(t.token);
      break;
    }
    case "list": {
      const rows = listApiTokens(db);
      if (rows.length === 0) console.log("no API tokens (create one with: npm run token -- create --name NAME)");
      else
        table([
          ["ID", "NAME", "CREATED", "LAST USED", "REVOKED"],
          ...rows.map((r) => [r.id, r.name, when(r.createdAt), when(r.lastUsedAt), when(r.revokedAt)]),
        ]);
      break;
    }
    case "revoke": {
      if (!arg) fail("revoke needs the token's name or id");
      const r = revokeApiToken(arg, db);
      console.log(`revoked API token ${r.id} "${r.name}"`);
      break;
    }
    case "workers": {
      const rows = listWorkers(db);
      if (rows.length === 0) console.log("no enrolled workers");
      else
        table([
          ["ID", "NAME", "STATUS", "RUNTIMES", "LAST HEARD"],
          ...rows.map((w) => [w.id, w.name, w.status, w.runtimes.join(","), when(w.lastHeartbeatAt)]),
        ]);
      break;
    }
    case "revoke-worker": {
      if (!arg) fail("revoke-worker needs the worker's id (see: npm run token -- workers)");
      if (!revokeWorker(arg, db)) fail(`no worker with id "${arg}" (see: npm run token -- workers)`);
      console.log(`revoked worker ${arg}: its next request is refused`);
      break;
    }
    case "rotate-enroll": {
      if (envSetting("FRONTIER_ENROLL_TOKEN")) fail("FRONTIER_ENROLL_TOKEN is set in the environment: change it there (and restart the server) to rotate");
      const file = path.resolve(envSetting("FRONTIER_ENROLL_TOKEN_FILE") ?? path.join(envSetting("FRONTIER_DATA_DIR"), "enroll-token"));
      fs.mkdirSync(path.dirname(file), { recursive: true, mode: 0o700 });
      fs.writeFileSync(file, `${crypto.randomBytes(24).toString("hex")}\n`, { mode: 0o600 });
      fs.chmodSync(file, 0o600);
      console.log(`wrote a new enrollment token to ${file}; workers enrolled with the old one are refused until they enroll with it`);
      break;
    }
    default:
      fail(`unknown command "${command}"\n${USAGE}`);
  }
} catch (e) {
  if (e instanceof DomainError) fail(e.message);
  throw e;
} finally {
  db.$client.close();
}
