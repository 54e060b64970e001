import fs from "node:fs";
import path from "node:path";
import { expect, test, type Page } from "@playwright/test";
import { HARDWARE } from "./fixtures";

/**
 * Runs on the shape model (registered on start) as the explorer shows them: no quality metric, so a
 * hint offers the speed view, whose points carry 95% intervals drawn as error bars. The metrics are
 * those of a real shape-125m demo sweep on the 2-core CI machine (baseline and RTN), logged through
 * the API so the test does not spend minutes generating and benchmarking the model.
 */
const TAG = `shape-e2e-${Date.now().toString(36)}`;
const iv = (key: string, v: number, lo: number, hi: number) => ({ [key]: v, [`${key}_lo`]: lo, [`${key}_hi`]: hi });

// Measured 2026-11-30: `npm start`'s demo sweep on shape-125m, one local worker, 2-core machine at load average 6-9.
const SWEEP: { methodId: string; params: Record<string, unknown>; metrics: Record<string, number> }[] = [
  {
    methodId: "baseline",
    params: {},
    metrics: {
      ...iv("decode_ms_per_token", 166.08, 146.22, 196.92),
      ...iv("prefill_ms", 1526.83, 1354.45, 2107.56),
      model_bytes: 495_338_620,
      peak_rss_bytes: 965_242_880,
    },
  },
  {
    methodId: "quant.rtn",
    params: { bits: 4, group_size: 32 },
    metrics: {
      ...iv("decode_ms_per_token", 120.5, 115.69, 131.98),
      ...iv("prefill_ms", 1126.13, 1022.43, 1188.69),
      ...iv("speedup", 0.919, 0.863, 0.956),
      model_bytes: 210_037_948,
      peak_rss_bytes: 699_973_632,
    },
  },
  {
    methodId: "quant.rtn",
    params: { bits: 4, group_size: 128 },
    metrics: {
      ...iv("decode_ms_per_token", 102.31, 98.64, 104.79),
      ...iv("prefill_ms", 1042.09, 990.85, 1120.08),
      ...iv("speedup", 1.127, 1.074, 1.183),
      model_bytes: 201_079_888,
      peak_rss_bytes: 687_644_672,
    },
  },
  {
    methodId: "quant.rtn",
    params: { bits: 8, group_size: 128, accuracy_level: 4 },
    metrics: {
      ...iv("decode_ms_per_token", 75.4, 70.26, 81.97),
      ...iv("prefill_ms", 1396.97, 1270.47, 1762.08),
      ...iv("speedup", 1.561, 1.462, 1.66),
      model_bytes: 243_879_076,
      peak_rss_bytes: 732_520_448,
    },
  },
];

const ids: number[] = [];

test.beforeAll(async ({ request }) => {
  for (const r of SWEEP) {
    const res = await request.post("/api/v1/runs", {
      data: {
        methodId: r.methodId,
        params: r.params,
        modelId: "shape-125m",
        datasetId: "grammar-test",
        runtime: "cpu",
        hardware: HARDWARE,
        metrics: r.metrics,
        tags: [TAG],
      },
    });
    expect(res.status(), await res.text()).toBe(201);
    ids.push(((await res.json()) as { id: number }).id);
  }
});

const chart = (page: Page, name: "latency" | "memory") => page.getByTestId(`chart-pareto-${name}`);

test("shape-model runs: a hint to the speed view, error bars from their intervals, and the speedup verdict", async ({ page }) => {
  const models = (await (await page.request.get("/api/v1/models")).json()).models as { id: string; source: string; card: { shapeOnly?: boolean } }[];
  expect(models.find((m) => m.id === "shape-125m")).toMatchObject({ source: "shape", card: { shapeOnly: true } });

  // Perplexity (the default y) is a metric shape runs cannot have: the explorer says so and offers their view.
  await page.goto(`/?tag=${TAG}`);
  const hint = page.getByTestId("shape-hint");
  await expect(hint).toContainText("shape-125m (random weights) report speed and memory only");
  await hint.getByRole("button", { name: /show shape-125m/ }).click();
  await expect(page).toHaveURL(/y=decode_ms_per_token/);
  await expect(page).toHaveURL(/model=shape-125m/);
  await expect(page.getByRole("heading", { name: "Decode per token (ms) vs Prefill (ms)" })).toBeVisible();

  // Every run has intervals on decode and prefill: error bars on both axes of the latency chart and
  // on y of the memory chart (model size has no interval).
  // (The baseline counts twice: on its group's front and as the baseline diamond.)
  const lat = chart(page, "latency");
  await expect(lat).toHaveAttribute("data-front-points", /^[1-9]/);
  const drawn = async (name: "latency" | "memory") => {
    const c = chart(page, name);
    return (
      Number(await c.getAttribute("data-front-points")) + Number(await c.getAttribute("data-dominated-points")) + (await c.locator(".pt-baseline").count())
    );
  };
  await expect(lat).toHaveAttribute("data-error-bars", String(await drawn("latency")));
  await expect(chart(page, "memory")).toHaveAttribute("data-error-bars", String(await drawn("memory")));
  // front and baseline points through recharts' ErrorBar (x and y whiskers), dominated ones as thin paths
  await expect(lat.locator(".recharts-errorBar").first()).toBeVisible();
  expect(await lat.locator(".recharts-errorBar").count()).toBeGreaterThanOrEqual(2 * (Number(await lat.getAttribute("data-front-points")) + 1));
  expect(await chart(page, "memory").locator(".recharts-errorBar").count()).toBeGreaterThan(0);

  await lat.locator(".pt-front").first().hover();
  await expect(page.locator(".chart-tip")).toContainText("95% interval");
  await page.mouse.move(0, 0);
  const file = process.env.UPDATE_SCREENSHOTS === "1" ? path.join("docs", "screenshots", "shape-explorer.png") : test.info().outputPath("shape-explorer.png");
  fs.mkdirSync(path.dirname(file), { recursive: true });
  await page.screenshot({ path: file, fullPage: false });

  // The run page words each speedup by its interval: above 1.0, below 1.0, or holding it.
  await page.goto(`/runs/${ids[3]}`);
  await expect(page.getByTestId("speedup-verdict")).toHaveText("faster");
  await page.goto(`/runs/${ids[1]}`);
  await expect(page.getByTestId("speedup-verdict")).toHaveText("slower");
  const res = await page.request.post("/api/v1/runs", {
    data: {
      methodId: "quant.rtn",
      params: { bits: 8 },
      modelId: "shape-125m",
      datasetId: "grammar-test",
      runtime: "cpu",
      hardware: HARDWARE,
      metrics: { ...iv("speedup", 1.01, 0.97, 1.04), decode_ms_per_token: 110 },
      tags: [`${TAG}-flat`],
    },
  });
  expect(res.status()).toBe(201);
  await page.goto(`/runs/${((await res.json()) as { id: number }).id}`);
  await expect(page.getByTestId("speedup-verdict")).toHaveText("no measurable change");
  await expect(page.getByTestId("metrics")).toContainText("1.01× [0.97×, 1.04×]");
});
