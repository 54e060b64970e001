/**
 * Dashboard benchmark: serves the built app (`next start`) over a copy of the tracker benchmark's
 * database (100,000 synthetic runs, made by `npm run bench:tracker`) and drives Debian's Chromium
 * through the Pareto explorer with `includeSynthetic=1`, timing
 *   - the explorer's data requests (GET /api/v1/pareto, from request start to the last byte, as the
 *     browser's resource timing sees them), on page load and on each filter change (a filter the
 *     server has not answered before in that run: nothing is cached across filters),
 *   - a filter-change redraw (choosing a family in the filter bar until both charts show the new
 *     fronts), and the longest main-thread task during it (what a user feels as a freeze).
 *
 *   npx tsx scripts/bench-dashboard.ts [--db data/bench-tracker.db] [--repeats 5]
 */
import { spawn } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { createRequire } from "node:module";
import { chromium } from "playwright-core";

const require = createRequire(import.meta.url);
const arg = (name: string, fallback: string) => {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 && process.argv[i + 1] ? process.argv[i + 1] : fallback;
};
const SRC = path.resolve(arg("db", path.join("data", "bench-tracker.db")));
const REPEATS = Number(arg("repeats", "5"));
const PORT = Number(arg("port", "3107"));
if (!fs.existsSync(SRC)) {
  console.error(`${SRC} does not exist: run npm run bench:tracker first (it fills 100,000 synthetic runs)`);
  process.exit(1);
}
if (!fs.existsSync(path.join(process.cwd(), ".next", "BUILD_ID"))) {
  console.error("no production build: run npx next build first");
  process.exit(1);
}

// A copy, so the benchmark never writes into (or migrates) the tracker benchmark's file.
const dir = fs.mkdtempSync(path.join(os.tmpdir(), "frontier-bench-dash-"));
const db = path.join(dir, "bench.db");
fs.copyFileSync(SRC, db);

const server = spawn(process.execPath, [require.resolve("next/dist/bin/next"), "start", "-p", String(PORT), "-H", "127.0.0.1"], {
  env: { ...process.env, FRONTIER_DB: db, FRONTIER_DATA_DIR: dir },
  stdio: ["ignore", "ignore", "inherit"],
});
const base = `http://127.0.0.1:${PORT}`;
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

async function main() {
  for (let i = 0; ; i++) {
    try {
      if ((await fetch(`${base}/api/v1/health`)).ok) break;
    } catch {}
    if (i > 300) throw new Error("server did not start");
    await new Promise((r) => setTimeout(r, 100));
  }
  const total = (await (await fetch(`${base}/api/v1/runs?includeSynthetic=1&limit=1`)).json()).total as number;
  const browser = await chromium.launch({
    executablePath: process.env.CHROMIUM_PATH ?? "/usr/bin/chromium",
    args: ["--headless=new", "--no-sandbox", "--disable-background-networking", "--disable-component-update", "--disable-sync", "--no-first-run"],
  });
  const page = await browser.newPage({ viewport: { width: 1440, height: 900 } });
  const load: number[] = [];
  const redraw: number[] = [];
  const onFilter: number[] = [];
  const longest: number[] = [];
  const paretoMs = () =>
    page.evaluate(() =>
      performance
        .getEntriesByType("resource")
        .filter((e) => e.name.includes("/api/v1/pareto"))
        .map((e) => (e as PerformanceResourceTiming).responseEnd - (e as PerformanceResourceTiming).requestStart),
    );
  const settled = (family: string) =>
    page.waitForFunction(
      (f) => {
        const charts = [...document.querySelectorAll("[data-testid^=chart-pareto]")];
        const fetching = document.body.innerText.includes("updating…");
        const legend = [...document.querySelectorAll("[data-testid=legend] button")].map((b) => b.textContent);
        return charts.length === 2 && !fetching && (f === "" ? legend.length > 1 : legend.length === 1 && legend[0] === f);
      },
      family,
      { timeout: 60_000, polling: "raf" },
    );
  let dominated = 0;
  for (let i = 0; i < REPEATS; i++) {
    await page.goto(`${base}/?includeSynthetic=1`);
    await settled("");
    load.push(...(await paretoMs()));
    dominated = Number(await page.getByTestId("chart-pareto-latency").getAttribute("data-dominated-points"));
    await page.evaluate(() => {
      (window as unknown as { __longest: number }).__longest = 0;
      new PerformanceObserver((l) => {
        for (const e of l.getEntries())
          (window as unknown as { __longest: number }).__longest = Math.max((window as unknown as { __longest: number }).__longest, e.duration);
      }).observe({ type: "longtask" });
      performance.clearResourceTimings();
    });
    const family = i % 2 === 0 ? "quantization" : "pruning";
    const t0 = Date.now();
    await page.getByLabel("Family").selectOption(family);
    await settled(family);
    redraw.push(Date.now() - t0);
    onFilter.push(...(await paretoMs()));
    longest.push(await page.evaluate(() => (window as unknown as { __longest: number }).__longest));
  }
  await browser.close();
  const out = {
    runs: total,
    dominatedDrawnPerChart: dominated,
    paretoRequestMsMedian: Math.round(median(load)),
    paretoRequestMsMax: Math.round(Math.max(...load)),
    paretoRequests: load.length,
    paretoRequestOnFilterChangeMsMedian: Math.round(median(onFilter)),
    paretoRequestsOnFilterChange: onFilter.length,
    filterRedrawMsMedian: median(redraw),
    filterRedrawMs: redraw,
    longestMainThreadTaskMsMedian: Math.round(median(longest)),
    cpu: os.cpus()[0]?.model,
    cores: os.cpus().length,
    loadavg: os
      .loadavg()
      .map((x) => x.toFixed(1))
      .join(" "),
    date: new Date().toISOString(),
  };
  console.log(JSON.stringify(out, null, 2));
}

main()
  .catch((e) => {
    console.error(e);
    process.exitCode = 1;
  })
  .finally(() => {
    server.kill("SIGTERM");
    fs.rmSync(dir, { recursive: true, force: true });
  });
