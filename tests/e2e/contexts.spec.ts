import { expect, test, type Page } from "@playwright/test";
import { logRuns, RUNS } from "./fixtures";

// Two models with the same methods: a front or a hypervolume that pooled them would be meaningless.
const STAMP = Date.now().toString(36);
const SMALL = `e2e-ctx-small-${STAMP}`;
const LARGE = `e2e-ctx-large-${STAMP}`;
const TAG = `ctx-${STAMP}`;

/** The large model: ten times the latency and size, a lower perplexity. */
const LARGE_RUNS = RUNS.map((r) => ({
  ...r,
  metrics: {
    perplexity: r.metrics.perplexity * 0.5,
    decode_ms_per_token: r.metrics.decode_ms_per_token * 10,
    latency_ms_p50: r.metrics.latency_ms_p50 * 10,
    model_bytes: r.metrics.model_bytes * 10,
  },
}));

const chart = (page: Page, name: "latency" | "memory") => page.getByTestId(`chart-pareto-${name}`);

test.beforeAll(async ({ request }) => {
  await logRuns(request, RUNS, { modelId: SMALL, tag: TAG });
  await logRuns(request, LARGE_RUNS, { modelId: LARGE, tag: TAG });
});

test("two models' runs never share a front or a hypervolume: one context at a time, with a picker", async ({ page }) => {
  await page.goto(`/?tag=${TAG}`);
  // The most recent context (the large model, logged last) is shown alone.
  const picker = page.getByTestId("context-picker");
  await expect(picker).toBeVisible();
  await expect(picker.locator("option")).toHaveCount(2);
  await expect(picker.locator("option:checked")).toContainText(LARGE);
  await expect(page.getByTestId("pareto-total")).toHaveText("8 runs with Perplexity and Decode per token (ms)");
  await expect(chart(page, "latency")).toHaveAttribute("data-front-points", "5");
  await expect(chart(page, "latency").locator(".pt-baseline")).toHaveCount(1);
  // The hypervolume reference is the context's baseline, stated with units.
  await expect(page.getByTestId("hv-reference")).toContainText("baseline #");
  await expect(page.getByTestId("hv-reference")).toContainText("75.0 ms");
  const hvLarge = await page.getByTestId("group-table").locator("tbody tr").first().locator("td").nth(3).textContent();

  const small = picker.locator("option", { hasText: SMALL });
  await expect(small).toHaveText(new RegExp(`^${SMALL} · e2e-text · cpu · .+ \\(8 runs\\)$`));
  await picker.selectOption((await small.getAttribute("value"))!);
  await expect(page).toHaveURL(new RegExp(`model=${SMALL}`));
  await expect(page.getByTestId("pareto-total")).toHaveText("8 runs with Perplexity and Decode per token (ms)");
  await expect(chart(page, "latency")).toHaveAttribute("data-front-points", "5");
  await expect(page.getByTestId("hv-reference")).toContainText("7.500 ms");
  const hvSmall = await page.getByTestId("group-table").locator("tbody tr").first().locator("td").nth(3).textContent();
  expect(hvSmall).not.toBe(hvLarge);

  // No axis of a non-negative metric runs below zero.
  const ticks = await chart(page, "latency").locator(".recharts-cartesian-axis-tick-value").allTextContents();
  expect(ticks.some((t) => t.trim().startsWith("-") || t.trim().startsWith("−"))).toBe(false);
});

test("runs that differ only by seed aggregate into one point with ± sd error bars, on request", async ({ page, request }) => {
  const model = `e2e-seeds-${STAMP}`;
  const post = async (methodId: string, params: Record<string, unknown>, seed: number, metrics: Record<string, number>) => {
    const res = await request.post("/api/v1/runs", {
      data: { methodId, params, modelId: model, datasetId: "e2e-text", runtime: "cpu", seed, metrics, tags: [TAG] },
    });
    expect(res.status()).toBe(201);
  };
  await post("baseline", {}, 1, { perplexity: 10, decode_ms_per_token: 5, model_bytes: 4e6 });
  for (const [seed, ppl] of [
    [1, 11],
    [2, 12],
    [3, 13],
  ])
    await post("quant.rtn", { bits: 4 }, seed, { perplexity: ppl, decode_ms_per_token: 2 + seed * 0.1, model_bytes: 1e6 });
  await page.goto(`/?model=${model}`);
  await expect(page.getByTestId("pareto-total")).toHaveText("4 runs with Perplexity and Decode per token (ms)");
  await page.getByLabel("mean over seeds").click(); // controlled by the URL: checked once the view updates
  await expect(page).toHaveURL(/agg=seeds/);
  await expect(page.getByTestId("pareto-total")).toHaveText("2 runs with Perplexity and Decode per token (ms)");
  const lat = chart(page, "latency");
  await expect(lat).toHaveAttribute("data-error-bars", /[1-9]/);
  // the tooltip of the aggregated quant.rtn point (the baseline's is a single run)
  const tips: string[] = [];
  for (const pt of await lat.locator(".pt-front").all()) {
    await pt.hover({ force: true });
    tips.push(
      (await page
        .locator(".chart-tip")
        .textContent({ timeout: 5000 })
        .catch(() => "")) ?? "",
    );
  }
  expect(tips.join("\n")).toMatch(/mean of 3 runs differing only by seed; \[ \]: ± 1 standard deviation/);
});
