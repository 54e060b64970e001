import { expect, test, type Page } from "@playwright/test";
import { logRuns, RUNS } from "./fixtures";

// Unique per worker: a worker restarted after a failure logs its own fresh runs.
const MODEL = `e2e-explorer-${Date.now().toString(36)}`;
let ids: number[] = [];

test.beforeAll(async ({ request }) => {
  ids = await logRuns(request, RUNS, { modelId: MODEL });
});

const chart = (page: Page, name: "latency" | "memory") => page.getByTestId(`chart-pareto-${name}`);

test("the explorer draws each family's front, fades dominated runs and marks the baseline", async ({ page }) => {
  await page.goto(`/?model=${MODEL}`);
  await expect(page.getByTestId("pareto-total")).toHaveText("8 runs with Perplexity and Decode per token (ms)");
  // decode vs perplexity: quantization bits 8/4/2 and pruning 0.3 and the baseline are non-dominated
  await expect(chart(page, "latency")).toHaveAttribute("data-front-points", "5");
  await expect(chart(page, "latency")).toHaveAttribute("data-dominated-points", "3");
  await expect(chart(page, "latency").locator(".pt-front")).toHaveCount(5);
  await expect(chart(page, "latency").locator(".dominated-layer")).toHaveAttribute("data-points", "3");
  await expect(chart(page, "latency").locator(".pt-baseline")).toHaveCount(1);
  await expect(chart(page, "memory").locator(".pt-baseline")).toHaveCount(1);
  await expect(page.getByTestId("legend").getByRole("button")).toHaveText(["baseline", "pruning", "quantization"]);
  const ranking = page.getByTestId("group-table").locator("tbody tr");
  await expect(ranking.first()).toContainText("quantization");

  // Hover shows the run; the legend hides a group.
  await chart(page, "latency").locator(".pt-front").first().hover();
  await expect(page.locator(".chart-tip")).toContainText("#");
  await page.getByTestId("legend").getByRole("button", { name: "quantization" }).click();
  await expect(page).toHaveURL(/hide=quantization/);
  await expect(chart(page, "latency")).toHaveAttribute("data-front-points", "2");
});

test("axes, colouring and filters are pickers whose state is in the URL", async ({ page }) => {
  await page.goto(`/?model=${MODEL}`);
  await expect(chart(page, "latency")).toHaveAttribute("data-front-points", "5");
  await page.getByLabel("Latency").selectOption("latency_ms_p50");
  await expect(page).toHaveURL(/xl=latency_ms_p50/);
  await expect(page.getByRole("heading", { name: "Perplexity vs Latency p50 (ms)" })).toBeVisible();
  await page.getByLabel("Colour by").selectOption("method");
  await expect(page).toHaveURL(/group=method/);
  await expect(page.getByTestId("legend").getByRole("button")).toHaveText(["baseline", "prune.magnitude", "quant.rtn"]);

  const t0 = Date.now();
  await page.getByLabel("Family").selectOption("quantization");
  await expect(chart(page, "latency")).toHaveAttribute("data-front-points", "3");
  test.info().annotations.push({ type: "filter redraw ms (8 runs)", description: String(Date.now() - t0) });
  await expect(page).toHaveURL(/family=quantization/);
  await page.getByLabel("log x").click();
  await expect(page).toHaveURL(/logx=1/);
  await expect(chart(page, "latency").locator(".pt-front")).toHaveCount(3);
});

test("clicking a point opens its run", async ({ page }) => {
  await page.goto(`/?model=${MODEL}&family=baseline`);
  await chart(page, "latency").locator(".pt-baseline").click();
  await expect(page).toHaveURL(new RegExp(`/runs/${ids[0]}$`));
  await expect(page.getByRole("heading", { name: `Run #${ids[0]} baseline` })).toBeVisible();
});

test("the chart exports as SVG and PNG", async ({ page }) => {
  await page.goto(`/?model=${MODEL}`);
  await expect(chart(page, "latency").locator(".pt-front")).toHaveCount(5);
  const card = page.locator(".chart-card").first();
  const [svg] = await Promise.all([page.waitForEvent("download"), card.getByRole("button", { name: "SVG" }).click()]);
  expect(svg.suggestedFilename()).toBe("pareto-latency.svg");
  const text = await (await svg.createReadStream()).toArray().then((c) => Buffer.concat(c).toString("utf8"));
  expect(text).toMatch(/^<svg[^>]+xmlns="http:\/\/www.w3.org\/2000\/svg"/);
  expect(text).toContain("pt-front");
  const [png] = await Promise.all([page.waitForEvent("download"), card.getByRole("button", { name: "PNG" }).click()]);
  expect(png.suggestedFilename()).toBe("pareto-latency.png");
  const bytes = await (await png.createReadStream()).toArray().then((c) => Buffer.concat(c));
  expect(bytes.subarray(0, 8).toString("hex")).toBe("89504e470d0a1a0a");
  expect(bytes.length).toBeGreaterThan(5000);
});
