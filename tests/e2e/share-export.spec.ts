import { expect, test } from "@playwright/test";
import { logRuns, RUNS } from "./fixtures";

// Unique per worker: a worker restarted after a failure logs its own fresh runs.
const MODEL = `e2e-share-${Date.now().toString(36)}`;

test.beforeAll(async ({ request }) => {
  await logRuns(request, RUNS, { modelId: MODEL });
});

test("a share link opens the same view read-only in a fresh browser, and says so once revoked", async ({ page, browser, request }) => {
  await page.goto(`/?model=${MODEL}&group=method&xl=latency_ms_p50`);
  const chart = page.getByTestId("chart-pareto-latency");
  await expect(chart).toHaveAttribute("data-front-points", "5");
  await page.getByLabel("share link expiry").selectOption("7");
  await page.getByRole("button", { name: "Share view" }).click();
  const linkBox = page.getByLabel("share link", { exact: true });
  await expect(linkBox).toHaveValue(/\/s\/[A-Za-z0-9_-]{22,}$/);
  const url = await linkBox.inputValue();
  const token = url.split("/s/")[1];
  expect(Buffer.from(token, "base64url").length * 8).toBeGreaterThanOrEqual(128);
  expect(url.length).toBeLessThan(100); // the view lives in the database, not in the link

  const stored = await (await request.get(`/api/v1/share/${token}`)).json();
  expect(stored.view).toEqual({ page: "explorer", query: { model: MODEL, group: "method", xl: "latency_ms_p50" } });
  expect(stored.expiresAt).toBeGreaterThan(Date.now() + 6 * 86_400_000);

  const visitor = await browser.newContext();
  const shared = await visitor.newPage();
  await shared.goto(url);
  await expect(shared).toHaveURL(new RegExp(`/shared/${token}$`));
  await expect(shared.getByTestId("shared-banner")).toContainText("Read-only shared view");
  await expect(shared.getByLabel("Colour by")).toHaveValue("method");
  await expect(shared.getByLabel("Latency")).toHaveValue("latency_ms_p50");
  await expect(shared.getByTestId("chart-pareto-latency")).toHaveAttribute("data-front-points", "5");
  await expect(shared.getByRole("heading", { name: "Perplexity vs Latency p50 (ms)" })).toBeVisible();
  await expect(shared.getByRole("button", { name: "Share view" })).toHaveCount(0);

  await page.getByRole("button", { name: "Revoke" }).click();
  await expect(page.getByText("revoked", { exact: true })).toBeVisible();
  expect((await request.get(`/api/v1/share/${token}`)).status()).toBe(410);
  expect((await request.get(url)).status()).toBe(410);
  await shared.reload(); // the open view sends the visitor back to the link, which says why
  await expect(shared.getByTestId("share-gone")).toContainText("This shared view is gone");
  await expect(shared.getByTestId("share-gone")).toContainText("revoked");
  await visitor.close();
});

test("a shared runs table keeps its filters and sort", async ({ page, browser }) => {
  await page.goto(`/runs?model=${MODEL}&family=quantization&sort=metric.perplexity`);
  await expect(page.getByTestId("runs-total")).toHaveText("4 runs match");
  await page.getByRole("button", { name: "Share view" }).click();
  await expect(page.getByLabel("share link", { exact: true })).toHaveValue(/\/s\//);
  const url = await page.getByLabel("share link", { exact: true }).inputValue();
  const visitor = await browser.newContext();
  const shared = await visitor.newPage();
  await shared.goto(url);
  await expect(shared.getByTestId("runs-total")).toHaveText("4 runs match");
  await expect(shared.locator('[data-testid="runs-table"] tbody tr').first()).toContainText("10.0500");
  await visitor.close();
});

test("an unknown share token says no such view", async ({ page }) => {
  const res = await page.goto(`/s/${"x".repeat(32)}`);
  expect(res?.status()).toBe(404);
  await expect(page.getByTestId("share-gone")).toHaveAttribute("data-state", "missing");
});

test("CSV and JSON export hold exactly the filtered runs the table counts", async ({ page }) => {
  await page.goto(`/runs?model=${MODEL}&family=quantization`);
  await expect(page.getByTestId("runs-total")).toHaveText("4 runs match");
  const total = Number((await page.getByTestId("runs-total").innerText()).split(" ")[0]);

  const [csv] = await Promise.all([page.waitForEvent("download"), page.getByRole("link", { name: "Export CSV" }).click()]);
  const text = Buffer.concat(await (await csv.createReadStream()).toArray()).toString("utf8");
  const lines = text.trim().split(/\r?\n/);
  expect(lines.length - 1).toBe(total);
  expect(lines.slice(1).every((l) => l.includes("quant.rtn") && l.includes(MODEL))).toBe(true);

  const [json] = await Promise.all([page.waitForEvent("download"), page.getByRole("link", { name: "Export JSON" }).click()]);
  const rows = JSON.parse(Buffer.concat(await (await json.createReadStream()).toArray()).toString("utf8"));
  expect(rows).toHaveLength(total);
});
