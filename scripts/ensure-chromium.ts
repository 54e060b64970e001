/**
 * Runs before `npm test` (package.json "pretest"): the WebGPU browser test and the e2e suite drive
 * Debian's Chromium at /usr/bin/chromium, and without it they failed deep inside the suite. As root
 * on a machine with apt-get it installs the package (what CI does); otherwise it stops at once with
 * the command to run. Nothing is printed when Chromium is there.
 */
import { spawnSync } from "node:child_process";
import fs from "node:fs";
import path from "node:path";
import { pathToFileURL } from "node:url";

export const CHROMIUM = "/usr/bin/chromium";
export const INSTALL_COMMAND = "apt-get update -qq && apt-get install -y -qq chromium fonts-dejavu-core";

export type ChromiumDecision = { action: "ok" } | { action: "install"; command: string } | { action: "stop"; message: string };

/** What to do, from whether Chromium is there, whether this process is root and whether apt-get is on the PATH. */
export function decideChromium({ exists, isRoot, hasApt }: { exists: boolean; isRoot: boolean; hasApt: boolean }): ChromiumDecision {
  if (exists) return { action: "ok" };
  if (isRoot && hasApt) return { action: "install", command: INSTALL_COMMAND };
  const run = hasApt ? `sudo sh -c '${INSTALL_COMMAND}'` : `install Debian's chromium package (${INSTALL_COMMAND})`;
  return { action: "stop", message: `npm test needs Chromium at ${CHROMIUM} for the browser and e2e tests; run: ${run}` };
}

function isExecutable(file: string): boolean {
  try {
    fs.accessSync(file, fs.constants.X_OK);
    return fs.statSync(file).isFile();
  } catch {
    return false;
  }
}

const onPath = (cmd: string) => (process.env.PATH ?? "").split(path.delimiter).some((dir) => dir !== "" && isExecutable(path.join(dir, cmd)));

function main(): number {
  const decision = decideChromium({ exists: isExecutable(CHROMIUM), isRoot: process.getuid?.() === 0, hasApt: onPath("apt-get") });
  if (decision.action === "ok") return 0;
  if (decision.action === "install") {
    console.log(`Chromium is not at ${CHROMIUM}; installing it for the browser and e2e tests: ${decision.command}`);
    const r = spawnSync("sh", ["-c", decision.command], { stdio: "inherit", env: { ...process.env, DEBIAN_FRONTEND: "noninteractive" } });
    if (r.status === 0 && isExecutable(CHROMIUM)) return 0;
    console.error(`Installing Chromium failed (${r.error?.message ?? `exit code ${r.status}`}); ${CHROMIUM} is still missing.`);
    return 1;
  }
  console.error(decision.message);
  return 1;
}

if (process.argv[1] && import.meta.url === pathToFileURL(path.resolve(process.argv[1])).href) process.exit(main());
