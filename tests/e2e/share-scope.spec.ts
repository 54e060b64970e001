import fs from "node:fs";
import path from "node:path";
import { startTokenServer, type TokenServer } from "./token-server";
import { expect, type Page, test } from "@playwright/test";
import { DATASET, HARDWARE, RUNS } from "./fixtures";

/**
 * A server where reads need a token (FRONTIER_AUTH=token, FRONTIER_READ=token), on its own port and
 * database: an explorer share, a compare share and an experiment share each render for a visitor
 * holding only the link, and none of their pages makes a read the link does not grant (no 401).
 */
const port = Number(process.env.E2E_SHARE_PORT ?? 3102);
const base = `http://127.0.0.1:${port}`;
let srv: TokenServer | undefined;
let dir: string;
let token: string;

async function api<T>(method: string, p: string, body?: unknown): Promise<T> {
  const res = await fetch(`${base}/api/v1${p}`, {
    method,
    headers: { authorization: `Bearer ${token}`, ...(body === undefined ? {} : { "content-type": "application/json" }) },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  if (!res.ok) throw new Error(`${method} ${p} answered ${res.status}: ${await res.text()}`);
  return (await res.json()) as T;
}

const logRun = async (modelId: string, r: (typeof RUNS)[number]) =>
  (
    await api<{ id: number }>("POST", "/runs", {
      methodId: r.methodId,
      params: r.params ?? {},
      modelId,
      datasetId: DATASET,
      runtime: "cpu",
      hardware: HARDWARE,
      metrics: r.metrics,
    })
  ).id;

const share = async (view: unknown) => (await api<{ token: string }>("POST", "/share", { view })).token;

/** Opens a share link as a visitor with no credentials; returns the API reads the server refused. */
async function openShared(page: Page, link: string): Promise<string[]> {
  const refused: string[] = [];
  page.on("response", (r) => {
    if (r.url().includes("/api/v1/") && r.status() === 401) refused.push(r.url().replace(base, ""));
  });
  await page.goto(`${base}/s/${link}`);
  await expect(page).toHaveURL(new RegExp(`/shared/${link}$`));
  await expect(page.getByTestId("shared-banner")).toContainText("Read-only shared view");
  return refused;
}

test.beforeAll(async () => {
  test.setTimeout(300_000);
  srv = await startTokenServer({ port, read: "token", name: "share", modelRootsInDir: true });
  token = srv.token;
  dir = srv.dir;
});

test.afterAll(async () => {
  await srv?.stop();
});

test("with FRONTIER_READ=token, explorer, compare and experiment shares render on the link's token alone", async ({ browser }) => {
  const a: number[] = [];
  for (const r of RUNS) a.push(await logRun("model-a", r));
  const b: number[] = [];
  for (const r of RUNS.slice(0, 3)) b.push(await logRun("model-b", r));

  const visitor = await browser.newContext();
  // The explorer of model A: both fronts and A's baseline, the context picker within A.
  const explorer = await share({ page: "explorer", query: { model: "model-a", group: "method" } });
  let page = await visitor.newPage();
  let refused = await openShared(page, explorer);
  await expect(page.getByTestId("chart-pareto-latency")).toHaveAttribute("data-front-points", /^[1-9]/);
  await expect(page.getByTestId("pareto-total")).toContainText(`${RUNS.length} runs`);
  expect(refused).toEqual([]);
  // The link reads nothing wider: model B's runs, even asked for from its page, are refused.
  const wider = await page.evaluate(
    async ([link, id]) => (await fetch(`/api/v1/runs/${id}`, { headers: { "x-frontier-share": link } })).status,
    [explorer, String(b[1])],
  );
  expect(wider).toBe(401);
  await page.close();

  // A comparison of a model-A and a model-B run, with the baselines its deltas need.
  page = await visitor.newPage();
  refused = await openShared(page, await share({ page: "compare", query: { ids: `${a[2]},${b[2]}` } }));
  const table = page.getByTestId("compare-table");
  await expect(table).toContainText(`#${a[2]}`);
  await expect(table).toContainText(`#${b[2]}`);
  await expect(table).toContainText("model-b");
  expect(refused).toEqual([]);
  await page.close();

  // An experiment: its runs (queued: no worker here) and one run's logs.
  fs.mkdirSync(path.join(dir, "m"), { recursive: true });
  fs.writeFileSync(path.join(dir, "m", "model.onnx"), Buffer.from([0x08, 0x08, 0x12, 0x01, 0x74]));
  fs.writeFileSync(path.join(dir, "m", "tokenizer.json"), JSON.stringify({ version: "1.0", model: { type: "BPE", vocab: {}, merges: [] } }));
  fs.writeFileSync(path.join(dir, "d.jsonl"), `${JSON.stringify({ text: "abc" })}\n`);
  await api("POST", "/models", { id: "m", path: path.join(dir, "m") });
  await api("POST", "/datasets", { id: "d", task: "perplexity", path: path.join(dir, "d.jsonl") });
  const exp = await api<{ id: number; runIds: number[] }>("POST", "/experiments", {
    name: "shared sweep",
    modelId: "m",
    datasetId: "d",
    runtime: "cpu",
    methodId: "quant.rtn",
    grid: { bits: [4, 8] },
  });
  page = await visitor.newPage();
  refused = await openShared(page, await share({ page: "experiment", id: String(exp.id), query: {} }));
  await expect(page.getByRole("heading", { name: /shared sweep/ })).toBeVisible();
  const rows = page.getByTestId("experiment-runs").locator("tbody tr[data-run-id]");
  await expect(rows).toHaveCount(2);
  await rows.first().getByRole("button", { name: "Logs" }).click();
  await expect(page.getByTestId(`logs-${await rows.first().getAttribute("data-run-id")}`)).toBeVisible();
  await expect(page.getByTestId(`logs-${await rows.first().getAttribute("data-run-id")}`)).not.toContainText("loading");
  expect(refused).toEqual([]);
  await visitor.close();
});
