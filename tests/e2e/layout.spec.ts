import AxeBuilder from "@axe-core/playwright";
import { expect, type Page, test } from "@playwright/test";
import { logRuns, RUNS } from "./fixtures";

/**
 * Reach and readability of every page: nothing scrolls sideways on a laptop (1280×800) or a phone
 * (390×844), axe finds no serious or critical accessibility violation, titles name what a page shows,
 * the API reference renders its operations and the runs table's column picker adds a column.
 */
const SUFFIX = Date.now().toString(36);
const MODEL = `e2e-layout-${SUFFIX}`;
const EXPERIMENT = `layout sweep ${SUFFIX}`;
let runIds: number[] = [];
let experimentId: number | null = null;

test.describe.configure({ mode: "serial" });

test.beforeAll(async ({ request }) => {
  // Wide metric values: a logged run per fixture plus model size, memory, effective bits and tokens/s.
  runIds = await logRuns(
    request,
    RUNS.map((r, i) => ({ ...r, metrics: { ...r.metrics, memory_bytes: 5_000_000 + i, bits_effective: 16 - i, tokens_per_s: 200 + i } })),
    { modelId: MODEL },
  );
  // An experiment on the bundled zoo (registered at start), its runs canceled at once so no worker spends the cores.
  const models = (await (await request.get("/api/v1/models")).json()).models as { id: string }[];
  const datasets = (await (await request.get("/api/v1/datasets")).json()).datasets as { id: string }[];
  if (models.some((m) => m.id === "zoo-base") && datasets.some((d) => d.id === "grammar-test")) {
    const res = await request.post("/api/v1/experiments", {
      data: { name: EXPERIMENT, modelId: "zoo-base", datasetId: "grammar-test", runtime: "cpu", methodId: "quant.rtn", grid: { bits: [2, 3, 4, 8] } },
    });
    expect(res.status(), await res.text()).toBe(201);
    const body = (await res.json()) as { id: number; runIds: number[] };
    experimentId = body.id;
    for (const id of body.runIds) await request.post(`/api/v1/runs/${id}/cancel`);
  }
});

function pages(): { path: string; title: RegExp }[] {
  return [
    { path: "/", title: /^Explorer · Frontier$/ },
    { path: "/runs", title: /^Runs · Frontier$/ },
    { path: `/runs/${runIds[2]}`, title: new RegExp(`^Run #${runIds[2]} quant\\.rtn · Frontier$`) },
    { path: "/experiments", title: /^Experiments · Frontier$/ },
    ...(experimentId ? [{ path: `/experiments/${experimentId}`, title: new RegExp(`^${EXPERIMENT} · Experiment #${experimentId} · Frontier$`) }] : []),
    { path: "/experiments/new", title: /^New experiment · Frontier$/ },
    { path: `/compare?ids=${runIds.slice(0, 4).join(",")}`, title: /^Compare runs · Frontier$/ },
    { path: "/workers", title: /^Workers · Frontier$/ },
    { path: "/api-docs", title: /^API reference · Frontier$/ },
    { path: "/signin", title: /^Sign in · Frontier$/ },
  ];
}

/** Waits until the page has drawn its data (no "Loading …" placeholder left). */
async function settle(page: Page) {
  await page.waitForLoadState("networkidle");
  await expect(page.locator(".loading")).toHaveCount(0);
}

async function sideways(page: Page): Promise<{ scrollWidth: number; innerWidth: number; widest: string }> {
  return page.evaluate(() => {
    const innerWidth = window.innerWidth;
    // The element sticking out furthest, to say what to fix when this fails.
    let widest = "";
    let right = innerWidth;
    for (const el of document.querySelectorAll("body *")) {
      const r = el.getBoundingClientRect();
      if (r.right > right + 0.5) {
        let scrolls = false;
        for (let p = el.parentElement; p; p = p.parentElement) {
          const o = getComputedStyle(p).overflowX;
          if (o === "auto" || o === "scroll" || o === "hidden") {
            scrolls = p !== document.documentElement && p !== document.body;
            if (scrolls) break;
          }
        }
        if (!scrolls) {
          right = r.right;
          widest = `${el.tagName.toLowerCase()}.${(el.getAttribute("class") ?? "").split(" ").join(".")} (${Math.round(r.right)} px)`;
        }
      }
    }
    return { scrollWidth: document.documentElement.scrollWidth, innerWidth, widest };
  });
}

// One pass per viewport: every page's title and sideways scroll, and at the laptop size axe too.
for (const viewport of [
  { width: 1280, height: 800, axe: true },
  { width: 390, height: 844, axe: false },
]) {
  test(`every page at ${viewport.width}×${viewport.height}: its title, no sideways scroll${viewport.axe ? ", no serious or critical axe violation" : ""}`, async ({
    page,
  }) => {
    await page.setViewportSize({ width: viewport.width, height: viewport.height });
    const wide: string[] = [];
    const violations: string[] = [];
    const refused: string[] = [];
    page.on("console", (m) => {
      if (m.type() === "error" && /Content Security Policy|Refused to/.test(m.text())) refused.push(`${page.url()}: ${m.text()}`);
    });
    for (const p of pages()) {
      await page.goto(p.path);
      await settle(page);
      await expect(page).toHaveTitle(p.title);
      if (p.path === "/api-docs") await expect(page.locator(".opblock").first()).toBeVisible();
      const s = await sideways(page);
      if (s.scrollWidth > s.innerWidth) wide.push(`${p.path}: ${s.scrollWidth} > ${s.innerWidth}, ${s.widest}`);
      if (!viewport.axe) continue;
      const results = await new AxeBuilder({ page })
        .withTags(["wcag2a", "wcag2aa", "wcag21a", "wcag21aa"])
        .options({ resultTypes: ["violations"] })
        .analyze();
      for (const v of results.violations) {
        if (v.impact !== "serious" && v.impact !== "critical") continue;
        violations.push(
          `${p.path}: ${v.id} (${v.impact}) ${v.nodes
            .map((n) => n.target.join(" "))
            .slice(0, 3)
            .join(" | ")}`,
        );
      }
    }
    expect(wide).toEqual([]);
    expect(violations).toEqual([]);
    expect(refused).toEqual([]);
  });
}

test("the nav's API link opens the reference, which lists the operations", async ({ page }) => {
  await page.goto("/signin");
  await page.getByRole("link", { name: "API", exact: true }).click();
  await expect(page).toHaveURL(/\/api-docs$/);
  const listRuns = page.locator(".opblock-get").filter({ has: page.locator('[data-path="/api/v1/runs"]') });
  await expect(listRuns).toHaveCount(1);
  await expect(listRuns).toContainText("GET");
  await expect(page.locator(".opblock-post").filter({ has: page.locator('[data-path="/api/v1/experiments"]') })).toHaveCount(1);
});

test("the column picker adds a metric and a parameter column, and the metric column sorts", async ({ page }) => {
  await page.goto(`/runs?model=${MODEL}&family=quantization&cols=metric.perplexity`);
  await expect(page.getByTestId("runs-total")).toHaveText("4 runs match");
  const header = page.locator('[data-testid="runs-table"] thead');
  await expect(header).not.toContainText("Effective bits");
  await page.getByLabel("add column").selectOption("metric.bits_effective");
  await expect(page).toHaveURL(/cols=/);
  await expect(header).toContainText("Effective bits");
  await page.getByLabel("add column").selectOption("param.bits");
  await expect(header).toContainText("param bits");
  expect(new URL(page.url()).searchParams.get("cols")?.split(",").slice(-2)).toEqual(["metric.bits_effective", "param.bits"]);
  const row = page.locator(`tr[data-run-id="${runIds[3]}"]`);
  await expect(row).toContainText("13.00 bits"); // bits_effective 16 - 3
  await expect(row.locator("td").last().locator("xpath=preceding-sibling::td[1]")).toHaveText("3"); // param bits, before Created
  // Sort by the new metric column: ascending puts the run with the fewest effective bits first.
  await header.getByRole("button", { name: /Effective bits/ }).click();
  await header.getByRole("button", { name: /Effective bits/ }).click();
  await expect(page).toHaveURL(/sort=metric\.bits_effective/);
  await expect(page.locator('[data-testid="runs-table"] tbody tr').first()).toHaveAttribute("data-run-id", String(runIds[4]));
  // A parameter column has no sort button: the API does not sort by parameters.
  await expect(header.getByRole("button", { name: /param bits/ })).toHaveCount(0);
  await page.getByRole("button", { name: "remove column param.bits" }).click();
  await expect(header).not.toContainText("param bits");
});

// For looking at the layout by eye: LAYOUT_SCREENSHOTS=1 writes full-page PNGs to the test's output folder.
test("screenshots at 1280 and 390 wide", async ({ page }) => {
  test.skip(process.env.LAYOUT_SCREENSHOTS !== "1", "set LAYOUT_SCREENSHOTS=1 to take them");
  const shots = [
    { name: "explorer", path: `/?model=${MODEL}` },
    { name: "runs", path: `/runs?model=${MODEL}` },
    ...(experimentId ? [{ name: "experiment", path: `/experiments/${experimentId}` }] : []),
  ];
  for (const width of [1280, 390]) {
    await page.setViewportSize({ width, height: width === 390 ? 844 : 800 });
    for (const s of shots) {
      await page.goto(s.path);
      await settle(page);
      await page.screenshot({ path: test.info().outputPath(`${s.name}-${width}.png`), fullPage: true });
    }
  }
});
