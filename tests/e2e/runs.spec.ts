import { expect, test } from "@playwright/test";
import { logRuns, RUNS } from "./fixtures";

// Unique per worker: a worker restarted after a failure logs its own fresh runs.
const MODEL = `e2e-runs-${Date.now().toString(36)}`;
let ids: number[] = [];

test.describe.configure({ mode: "serial" });

test.beforeAll(async ({ request }) => {
  ids = await logRuns(request, RUNS, { modelId: MODEL });
});

const rows = (page: import("@playwright/test").Page) => page.locator('[data-testid="runs-table"] tbody tr');

test("logged runs appear in the runs table with status, method, params and metrics with units", async ({ page }) => {
  await page.goto(`/runs?model=${MODEL}`);
  await expect(page.getByTestId("runs-total")).toHaveText("8 runs match");
  await expect(rows(page)).toHaveCount(8);
  await expect(rows(page).first()).toHaveAttribute("data-run-id", String(ids[7])); // newest first
  const rtn4 = page.locator(`tr[data-run-id="${ids[2]}"]`);
  for (const text of ["succeeded", "quant.rtn", "bits=4", "quantization", "cpu", "10.6000", "2.600 ms", "600 KB"]) await expect(rtn4).toContainText(text);
  await expect(rtn4).not.toContainText("group_size"); // defaults are not repeated
});

test("filter, sort and paginate through the URL", async ({ page }) => {
  await page.goto(`/runs?model=${MODEL}&family=quantization&sort=metric.perplexity&limit=2`);
  await expect(page.getByTestId("runs-total")).toHaveText("4 runs match");
  await expect(rows(page)).toHaveCount(2);
  await expect(rows(page).nth(0)).toHaveAttribute("data-run-id", String(ids[1])); // perplexity 10.05
  await expect(rows(page).nth(1)).toHaveAttribute("data-run-id", String(ids[2])); // 10.6
  await page.getByRole("button", { name: "Next page →" }).click();
  await expect(page).toHaveURL(/cursor=/);
  await expect(rows(page).nth(0)).toHaveAttribute("data-run-id", String(ids[3])); // 12.4
  await expect(rows(page).nth(1)).toHaveAttribute("data-run-id", String(ids[4])); // 31
  await expect(page.getByRole("button", { name: "Next page →" })).toHaveCount(0);

  // A filter change from the bar goes to the URL and back to the first page.
  await page.getByLabel("Family").selectOption("pruning");
  await expect(page).toHaveURL(/family=pruning/);
  await expect(page).not.toHaveURL(/cursor=/);
  await expect(page.getByTestId("runs-total")).toHaveText("3 runs match");

  // Clicking a metric header sorts by it, descending first.
  await page.getByTitle("sort by metric.perplexity").click();
  await expect(page).toHaveURL(/sort=-metric.perplexity/);
  await expect(rows(page).nth(0)).toHaveAttribute("data-run-id", String(ids[7])); // 19.5

  await page.getByTitle("sort by methodId").click();
  await expect(page).toHaveURL(/sort=-methodId/);
  await expect(rows(page)).toHaveCount(2);

  // A metric range filter, as the API reads it.
  await page.goto(`/runs?model=${MODEL}&metric.perplexity<=11`);
  await expect(page.getByTestId("runs-total")).toHaveText("4 runs match"); // 10, 10.05, 10.4, 10.6
});

test("run detail shows params, metrics with deltas vs its baseline, hardware, history and time series; tags and notes save", async ({ page, request }) => {
  const points = Array.from({ length: 30 }, (_, step) => ({ key: "loss", step, value: 3 * 0.9 ** step + 0.5 }));
  expect((await request.post(`/api/v1/runs/${ids[2]}/metrics`, { data: { points } })).status()).toBe(201);
  await page.goto(`/runs/${ids[2]}`);
  await expect(page.getByRole("heading", { name: `Run #${ids[2]} quant.rtn` })).toBeVisible();
  const metrics = page.getByTestId("metrics");
  await expect(metrics.locator("tr", { hasText: "Perplexity" })).toContainText("+6.00%");
  await expect(metrics.locator("tr", { hasText: "Decode per token" })).toContainText("-48.0%");
  await expect(page.getByTestId("baseline-link")).toHaveAttribute("href", `/runs/${ids[0]}`);
  await expect(page.getByText("e2e test CPU")).toBeVisible();
  await expect(page.getByRole("heading", { name: "Status history" })).toBeVisible();
  await expect(page.getByRole("heading", { name: "Time series" })).toBeVisible();
  await expect(page.getByLabel("series")).toHaveValue("loss");
  await expect(page.locator(".recharts-line-curve")).toBeVisible();

  await page.getByLabel("tags").fill("e2e, int4");
  await page.getByLabel("notes").fill("looks good");
  await page.getByRole("button", { name: "Save" }).click();
  await expect(page.getByText("saved")).toBeVisible();
  const saved = await (await request.get(`/api/v1/runs/${ids[2]}`)).json();
  expect(saved.tags).toEqual(["e2e", "int4"]);
  expect(saved.notes).toBe("looks good");
  await page.reload();
  await expect(page.getByLabel("tags")).toHaveValue("e2e, int4");

  await page.goto(`/runs?model=${MODEL}&tag=int4`);
  await expect(page.getByTestId("runs-total")).toHaveText("1 runs match");
});

test("compare two runs side by side with differences highlighted and deltas vs baseline", async ({ page }) => {
  await page.goto(`/runs?model=${MODEL}&family=quantization`);
  await page.getByLabel(`select run ${ids[1]}`).check();
  await page.getByLabel(`select run ${ids[2]}`).check();
  await page.getByRole("link", { name: "Compare 2" }).click();
  await expect(page).toHaveURL(new RegExp(`/compare\\?ids=${ids[1]},${ids[2]}$`));
  const table = page.getByTestId("compare-table");
  await expect(table.locator('tr[data-param="bits"]')).toHaveClass(/differs/);
  // logged runs store exactly the parameters they were given: no default group_size to compare
  await expect(table.locator('tr[data-param="group_size"]')).toHaveCount(0);
  const ppl = table.locator('tr[data-metric="perplexity"]');
  await expect(ppl).toContainText("+0.50%");
  await expect(ppl).toContainText("+6.00%");
});

test("compare overlays the time series of several runs, with smoothing", async ({ page, request }) => {
  // ids[2] got a loss series in the run-detail test; give ids[1] one too
  const points = Array.from({ length: 30 }, (_, step) => ({ key: "loss", step, value: 2.5 * 0.85 ** step + 0.7 + (step % 3) * 0.05 }));
  expect((await request.post(`/api/v1/runs/${ids[1]}/metrics`, { data: { points } })).status()).toBe(201);
  await page.goto(`/compare?ids=${ids[1]},${ids[2]}`);
  const overlay = page.getByTestId("series-overlay");
  await expect(overlay).toHaveAttribute("data-lines", "2");
  await expect(overlay.locator(".recharts-line")).toHaveCount(2);
  await expect(overlay.locator(".recharts-legend-item")).toHaveText([`#${ids[1]} quant.rtn`, `#${ids[2]} quant.rtn`]);
  await overlay.getByLabel("smoothing").fill("0");
  await expect(overlay).toContainText("smoothing 0.00");
});
