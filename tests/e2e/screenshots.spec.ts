import fs from "node:fs";
import path from "node:path";
import { expect, test, type Page } from "@playwright/test";
import { logRuns, RUNS } from "./fixtures";

/**
 * Screenshots of the main views over runs logged through the API. They land in the test's output
 * folder; with UPDATE_SCREENSHOTS=1 they replace docs/screenshots/*.png (the README's pictures).
 */
const MODEL = `logged-model-${Date.now().toString(36)}`;
let ids: number[] = [];

test.beforeAll(async ({ request }) => {
  ids = await logRuns(request, RUNS, { modelId: MODEL });
});

async function shot(page: Page, name: string) {
  const file = process.env.UPDATE_SCREENSHOTS === "1" ? path.join("docs", "screenshots", `${name}.png`) : test.info().outputPath(`${name}.png`);
  fs.mkdirSync(path.dirname(file), { recursive: true });
  await page.screenshot({ path: file, fullPage: false });
  expect(fs.statSync(file).size).toBeGreaterThan(10_000);
}

test("explorer, runs table, run detail and submission form", async ({ page }) => {
  await page.goto(`/?model=${MODEL}&xl=latency_ms_p50`);
  await expect(page.getByTestId("chart-pareto-latency").locator(".pt-front")).toHaveCount(5);
  await page.mouse.move(0, 0);
  await shot(page, "explorer");

  await page.goto(`/runs?model=${MODEL}`);
  await expect(page.getByTestId("runs-total")).toHaveText("8 runs match");
  await page.getByLabel(`select run ${ids[1]}`).check();
  await page.getByLabel(`select run ${ids[2]}`).check();
  await shot(page, "runs");

  await page.goto(`/runs/${ids[2]}`);
  await expect(page.getByTestId("metrics")).toBeVisible();
  await shot(page, "run-detail");

  await page.goto("/experiments/new");
  const method = page.getByLabel("Method");
  await expect(method).toBeVisible();
  const rtn = method.locator('option[value="quant.rtn"]');
  if ((await rtn.count()) === 1 && (await rtn.isEnabled())) {
    await method.selectOption("quant.rtn");
    await page.getByLabel("bits 8").check();
    await page.getByLabel("bits 4").check();
    await page.getByLabel("bits 2").check();
  }
  await shot(page, "submission-form");
});
