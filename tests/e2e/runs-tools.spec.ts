import AxeBuilder from "@axe-core/playwright";
import { expect, type Page, test } from "@playwright/test";
import { HARDWARE } from "./fixtures";

/**
 * The runs table's tools: mean over seeds (one row per seed set, metrics as mean ± sd), saved views
 * reopened from the menu (delete asks, undo puts back), bulk tags then the tag filter, and compare
 * collapsing seed replicates; the new controls keep the pages readable on a phone and for axe.
 */
const STAMP = Date.now().toString(36);
const MODEL = `e2e-tools-${STAMP}`;
const TAG = `bulk-${STAMP}`;
let replicates: number[] = [];
let baseline = 0;

test.describe.configure({ mode: "serial" });

async function post(
  request: import("@playwright/test").APIRequestContext,
  methodId: string,
  params: Record<string, unknown>,
  seed: number,
  metrics: Record<string, number>,
) {
  const res = await request.post("/api/v1/runs", {
    data: { methodId, params, modelId: MODEL, datasetId: "e2e-text", runtime: "cpu", hardware: HARDWARE, seed, metrics },
  });
  expect(res.status(), await res.text()).toBe(201);
  return ((await res.json()) as { id: number }).id;
}

test.beforeAll(async ({ request }) => {
  baseline = await post(request, "baseline", {}, 1, { perplexity: 10, decode_ms_per_token: 5 });
  replicates = [];
  for (const [seed, ppl] of [
    [1, 11],
    [2, 12],
    [3, 13],
  ])
    replicates.push(await post(request, "quant.rtn", { bits: 4 }, seed, { perplexity: ppl, decode_ms_per_token: 2 + seed * 0.1 }));
});

async function sideways(page: Page): Promise<string | null> {
  return page.evaluate(() => {
    if (document.documentElement.scrollWidth <= window.innerWidth) return null;
    let widest = "";
    let right = window.innerWidth;
    for (const el of document.querySelectorAll("body *")) {
      const r = el.getBoundingClientRect();
      if (r.right <= right + 0.5) continue;
      let scrolls = false;
      for (let p = el.parentElement; p && p !== document.body; p = p.parentElement) {
        const o = getComputedStyle(p).overflowX;
        if (o === "auto" || o === "scroll" || o === "hidden") {
          scrolls = true;
          break;
        }
      }
      if (!scrolls) {
        right = r.right;
        widest = `${el.tagName.toLowerCase()}.${(el.getAttribute("class") ?? "").split(" ").join(".")} (${Math.round(r.right)} px)`;
      }
    }
    return `${document.documentElement.scrollWidth} > ${window.innerWidth}: ${widest}`;
  });
}

async function serious(page: Page): Promise<string[]> {
  const results = await new AxeBuilder({ page })
    .withTags(["wcag2a", "wcag2aa", "wcag21a", "wcag21aa"])
    .options({ resultTypes: ["violations"] })
    .analyze();
  return results.violations
    .filter((v) => v.impact === "serious" || v.impact === "critical")
    .map((v) => `${v.id}: ${v.nodes.map((n) => n.target.join(" ")).join(" | ")}`);
}

test("mean over seeds on /runs: seed replicates become one row with n and mean ± sd, linking to its runs", async ({ page }) => {
  await page.goto(`/runs?model=${MODEL}`);
  await expect(page.getByTestId("runs-total")).toHaveText("4 runs match");
  await expect(page.getByTestId("runs-table").locator("tbody tr")).toHaveCount(4);
  await page.getByLabel("mean over seeds").click(); // controlled by the URL: checked once the view updates
  await expect(page).toHaveURL(/agg=seeds/);
  await expect(page.getByTestId("runs-total")).toHaveText("2 seed sets of 4 runs match");
  const rows = page.getByTestId("runs-groups-table").locator("tbody tr");
  await expect(rows).toHaveCount(2);
  const set = rows.and(page.locator('[data-n="3"]'));
  await expect(set).toHaveCount(1);
  await expect(set).toContainText("3 runs");
  await expect(set).toContainText("seeds 1, 2, 3");
  // perplexity 11, 12, 13: mean 12, sd 1
  await expect(set).toContainText("±");
  await expect(set.locator("td.num").first()).toContainText("12");
  await set.getByText("3 runs").click();
  await expect(set.getByRole("link", { name: `#${replicates[1]}` })).toBeVisible();
  await set.getByRole("link", { name: "compare these 3" }).click();
  await expect(page).toHaveURL(new RegExp(`/compare\\?ids=${replicates.join(",")}&agg=seeds$`));
  await expect(page.getByTestId("compare-table").locator("thead th")).toHaveCount(2);
});

test("a named view is saved, reopened from the Saved views menu on another page, deleted after asking, and undone", async ({ page }) => {
  const name = `seeds of ${STAMP}`;
  await page.goto(`/runs?model=${MODEL}&agg=seeds`);
  await expect(page.getByTestId("runs-total")).toHaveText("2 seed sets of 4 runs match");
  const menu = page.getByTestId("saved-views");
  await menu.getByText("Saved views").click();
  await menu.getByLabel("view name").fill(name);
  await menu.getByRole("button", { name: "Save current view" }).click();
  await expect(menu.getByRole("link", { name })).toBeVisible();

  await page.goto("/");
  const explorerMenu = page.getByTestId("saved-views");
  await explorerMenu.getByText("Saved views").click();
  await explorerMenu.getByRole("link", { name }).click();
  await expect(page).toHaveURL(new RegExp(`/runs\\?model=${MODEL}&agg=seeds$`));
  await expect(page.getByTestId("runs-total")).toHaveText("2 seed sets of 4 runs match");

  const again = page.getByTestId("saved-views");
  await again.getByText("Saved views").click();
  await again.getByRole("button", { name: `delete saved view ${name}` }).click();
  await expect(again).toContainText(`Delete “${name}”?`);
  await again.getByRole("button", { name: "Delete", exact: true }).click();
  await expect(again.getByRole("link", { name })).toHaveCount(0);
  await expect(again.getByRole("status")).toContainText(`Deleted “${name}”.`);
  await again.getByRole("button", { name: "Undo" }).click();
  await expect(again.getByRole("link", { name })).toBeVisible();
});

test("bulk tag: select runs (or all on the page), add a tag, filter by it, remove it", async ({ page }) => {
  await page.goto(`/runs?model=${MODEL}&sort=id`);
  await page.getByLabel(`select run ${replicates[0]}`).check();
  await page.getByLabel(`select run ${replicates[2]}`).check();
  const bar = page.getByTestId("bulk-bar");
  await expect(bar).toContainText("2 selected");
  await bar.getByLabel("bulk tag").fill(TAG);
  await bar.getByRole("button", { name: "Add tag" }).click();
  await expect(bar.getByRole("status")).toHaveText(`Tagged 2 of 2 runs “${TAG}”.`);
  await expect(page.locator(`tr[data-run-id="${replicates[0]}"] [data-testid="run-tags"]`)).toHaveText(TAG);

  await page.goto(`/runs?tag=${TAG}`);
  await expect(page.getByTestId("runs-total")).toHaveText("2 runs match");
  await expect(page.getByTestId("runs-table").locator("tbody tr")).toHaveCount(2);

  await page.goto(`/runs?model=${MODEL}`);
  await page.getByLabel("select all runs on this page").check();
  await expect(page.getByTestId("bulk-bar")).toContainText("4 selected");
  await page.getByTestId("bulk-bar").getByLabel("bulk tag").fill(TAG);
  await page.getByTestId("bulk-bar").getByRole("button", { name: "Remove tag" }).click();
  await expect(page.getByTestId("bulk-bar").getByRole("status")).toHaveText(`Untagged 2 of 4 runs “${TAG}”.`);
  await page.goto(`/runs?tag=${TAG}`);
  await expect(page.getByTestId("runs-total")).toHaveText("0 runs match");
});

test("compare collapses seed replicates into one column with mean ± sd and n", async ({ page }) => {
  await page.goto(`/compare?ids=${[baseline, ...replicates].join(",")}`);
  const table = page.getByTestId("compare-table");
  await expect(table.locator("thead th")).toHaveCount(5);
  await expect(page.getByTestId("seed-replicates")).toHaveText("2 seed sets among these 4 runs");
  await page.getByLabel("mean over seeds").click(); // controlled by the URL: checked once the view updates
  await expect(page).toHaveURL(/agg=seeds/);
  await expect(table.locator("thead th")).toHaveCount(3);
  await expect(table.locator("thead th").nth(2)).toContainText("mean of 3");
  const ppl = table.locator('tr[data-metric="perplexity"] td').nth(1);
  await expect(ppl).toContainText("±");
  await expect(ppl).toContainText("(n=3)");
  await expect(
    table
      .locator("tr", { has: page.locator("th", { hasText: /^seed$/ }) })
      .locator("td")
      .nth(1),
  ).toHaveText("1, 2, 3");
});

test("the new controls, open, scroll nothing sideways at 390 px and 1280 px, and axe finds nothing serious", async ({ page }) => {
  const problems: string[] = [];
  for (const viewport of [
    { width: 1280, height: 800 },
    { width: 390, height: 844 },
  ]) {
    await page.setViewportSize(viewport);
    for (const path of [
      `/runs?model=${MODEL}&agg=seeds`,
      `/runs?model=${MODEL}`,
      `/compare?ids=${[baseline, ...replicates].join(",")}&agg=seeds`,
      `/?model=${MODEL}`,
    ]) {
      await page.goto(path);
      await page.waitForLoadState("networkidle");
      const menu = page.getByTestId("saved-views");
      await menu.getByText("Saved views").click();
      await expect(menu.getByLabel("view name")).toBeVisible();
      if (path.endsWith("agg=seeds") && path.startsWith("/runs")) await page.getByTestId("runs-groups-table").locator("summary").first().click();
      if (!path.includes("agg") && path.startsWith("/runs")) await page.getByLabel("select all runs on this page").check();
      const wide = await sideways(page);
      if (wide) problems.push(`${viewport.width}px ${path}: ${wide}`);
      if (viewport.width === 1280) for (const v of await serious(page)) problems.push(`axe ${path}: ${v}`);
    }
  }
  expect(problems).toEqual([]);
});
