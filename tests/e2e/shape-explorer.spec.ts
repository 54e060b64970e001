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

const SWEEP: { methodId: string; params: Record<string, unknown>; metrics: Record<string, number> }[] = [
  { methodId: "baseline", params: {}, metrics: { ...iv("decode_ms_per_token", 159.2, 150.3, 165.4), ...iv("prefill_ms", 1723.6, 1558.5, 2014.2), model_bytes: 495_338_620, peak_rss_bytes: 1_166_675_968 } },
  { methodId: "quant.rtn", params: { bits: 4, group_size: 32 }, metrics: { ...iv("decode_ms_per_token", 60, 55, 66), ...iv("prefill_ms", 1500, 1400, 1650), ...iv("speedup", 2.6, 2.3, 2.9), model_bytes: 150_000_000 } },
  { methodId: "quant.rtn", params: { bits: 4, group_size: 128 }, metrics: { ...iv("decode_ms_per_token", 55, 50, 61), ...iv("prefill_ms", 1450, 1350, 1600), ...iv("speedup", 2.8, 2.5, 3.1), model_bytes: 135_000_000 } },
  { methodId: "quant.rtn", params: { bits: 8, group_size: 128, accuracy_level: 4 }, metrics: { ...iv("decode_ms_per_token", 150, 135, 170), ...iv("prefill_ms", 1650, 1500, 1900), ...iv("speedup", 1.05, 0.93, 1.18), model_bytes: 200_000_000 } },
];

let ids: number[] = [];

test.beforeAll(async ({ request }) => {
  for (const r of SWEEP) {
    const res = await request.post("/api/v1/runs", {
      data: { methodId: r.methodId, params: r.params, modelId: "shape-125m", datasetId: "grammar-test", runtime: "cpu", hardware: HARDWARE, metrics: r.metrics, tags: [TAG] },
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
    return Number(await c.getAttribute("data-front-points")) + Number(await c.getAttribute("data-dominated-points")) + (await c.locator(".pt-baseline").count());
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

  // A speedup whose interval holds 1.0 is "no measurable change" on the run page.
  const flat = SWEEP.findIndex((r) => r.metrics.speedup_lo !== undefined && r.metrics.speedup_lo <= 1 && r.metrics.speedup_hi >= 1);
  const fast = SWEEP.findIndex((r) => r.metrics.speedup_lo !== undefined && r.metrics.speedup_lo > 1);
  await page.goto(`/runs/${ids[fast]}`);
  await expect(page.getByTestId("speedup-verdict")).toHaveText("faster");
  if (flat >= 0) {
    await page.goto(`/runs/${ids[flat]}`);
    await expect(page.getByTestId("speedup-verdict")).toHaveText("no measurable change");
  }
});
