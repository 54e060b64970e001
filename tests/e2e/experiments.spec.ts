import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { expect, test } from "@playwright/test";
import { writeDecoder } from "../../workers/onnx/decoder-builder";

/**
 * The submission form against the live registry, and a real sweep: a tiny decoder written with the
 * engine's builder is registered through the API, the form submits a grid, the local worker runs it.
 */
const SUFFIX = Date.now().toString(36);
const MODEL = `e2e-tiny-${SUFFIX}`;
const DATASET = `e2e-tiny-text-${SUFFIX}`;

interface Method {
  id: string;
  label: string;
  family: string;
  implemented: boolean;
  params: { properties?: Record<string, { type?: string; minimum?: number; maximum?: number; anyOf?: { const?: unknown }[] }> };
}
let methods: Method[] = [];

test.describe.configure({ mode: "serial" });

test.beforeAll(async ({ request }) => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "frontier-e2e-model-"));
  writeDecoder(
    path.join(dir, "model"),
    { vocab_size: 300, num_layers: 2, num_heads: 4, num_kv_heads: 2, hidden_size: 64, intermediate_size: 128, max_position: 160 },
    { seed: 5 },
  );
  const words = ["the", "model", "runs", "fast", "on", "small", "boxes", "and", "slow", "ones"];
  const lines = Array.from({ length: 16 }, (_, i) =>
    JSON.stringify({ text: Array.from({ length: 40 }, (_, j) => words[(i * 7 + j * 3) % words.length]).join(" ") }),
  );
  fs.writeFileSync(path.join(dir, "text.jsonl"), lines.join("\n") + "\n");
  const m = await request.post("/api/v1/models", { data: { id: MODEL, path: path.join(dir, "model") } });
  expect(m.status(), await m.text()).toBe(201);
  const d = await request.post("/api/v1/datasets", { data: { id: DATASET, task: "perplexity", path: path.join(dir, "text.jsonl") } });
  expect(d.status(), await d.text()).toBe(201);
  methods = (await (await request.get("/api/v1/methods")).json()).methods;
});

test("the form lists the registry, disables unimplemented methods and validates each swept value", async ({ page }) => {
  await page.goto("/experiments/new");
  const method = page.getByLabel("Method");
  for (const m of methods) {
    const option = method.locator(`option[value="${m.id}"]`);
    await expect(option).toHaveCount(1);
    if (m.implemented) await expect(option).toBeEnabled();
    else {
      await expect(option).toBeDisabled();
      await expect(option).toContainText("not implemented yet");
    }
  }
  // A number param with bounds, from whichever implemented method has one.
  const withBound = methods
    .filter((m) => m.implemented)
    .flatMap((m) => Object.entries(m.params.properties ?? {}).map(([k, s]) => ({ m, k, s })))
    .find(({ s }) => (s.type === "number" || s.type === "integer") && s.maximum !== undefined);
  test.skip(!withBound, "no implemented method has a bounded number param yet");
  const { m, k, s } = withBound!;
  await method.selectOption(m.id);
  const input = page.getByLabel(k, { exact: true });
  await input.fill("abc");
  await expect(page.locator(`[data-field-error="param:${k}"]`)).toHaveText('"abc" is not a number');
  await input.fill(`${s.maximum! * 2 + 1}`);
  await expect(page.locator(`[data-field-error="param:${k}"]`)).toContainText(String(s.maximum));
  await page.getByRole("button", { name: /^Submit/ }).click();
  await expect(page).toHaveURL(/\/experiments\/new$/); // nothing was submitted
  await input.fill(`${s.maximum}, ${s.minimum ?? s.maximum! / 2}`);
  await expect(page.locator(`[data-field-error="param:${k}"]`)).toHaveCount(0);
  await expect(page.getByTestId("grid-count")).toContainText("expands to 2 runs");
});

test("a sweep submitted through the form runs on the worker and finishes, live", async ({ page }) => {
  test.setTimeout(240_000);
  const quant = methods.find((m) => m.implemented && m.family === "quantization" && m.params.properties?.bits?.anyOf);
  const chosen = quant ?? methods.find((m) => m.id === "baseline")!;
  await page.goto("/experiments/new");
  await page.getByLabel("Model").selectOption(MODEL);
  await page.getByLabel("Dataset").selectOption(DATASET);
  await page.getByLabel("Runtime").selectOption("cpu");
  await page.getByLabel("Method").selectOption(chosen.id);
  await page.getByLabel("Name").fill(`e2e sweep ${SUFFIX}`);
  const expected = quant ? 2 : 1;
  if (quant) {
    await page.getByLabel("bits 8").check();
    await page.getByLabel("bits 4").check();
  }
  await expect(page.getByTestId("grid-count")).toContainText(`expands to ${expected} run`);
  await page.getByRole("button", { name: /^Submit/ }).click();
  await expect(page).toHaveURL(/\/experiments\/\d+$/);
  const id = page.url().split("/").pop();
  const rows = page.getByTestId("experiment-runs").locator("tbody tr[data-run-id]");
  await expect(rows).toHaveCount(expected);
  await expect(page.getByText(`${expected} of ${expected} runs finished`)).toBeVisible({ timeout: 200_000 });
  for (let i = 0; i < expected; i++) await expect(rows.nth(i).locator("[data-status]")).toHaveAttribute("data-status", "succeeded");
  await rows.first().getByRole("button", { name: "Logs" }).click();
  await expect(page.locator("[data-testid^=logs-]")).toContainText("succeeded");
  await expect(page.getByRole("heading", { name: "Pareto fronts of finished runs" })).toBeVisible();
  await expect(page.locator(".pt-front").first()).toBeVisible();

  await page.goto("/experiments");
  const row = page.locator(`tr[data-experiment-id="${id}"]`);
  await expect(row).toContainText(`e2e sweep ${SUFFIX}`);
  await expect(row).toContainText(`${expected} succeeded`);
  await expect(row).toContainText(`${expected}/${expected}`);

  await page.goto(`/runs?experiment=${id}`);
  await expect(page.getByTestId("runs-total")).toHaveText(`${expected} runs match`);
});

test("a finished run's model downloads from its page, and registers as a base model", async ({ page, request }) => {
  const runs = (await (await request.get(`/api/v1/runs?model=${MODEL}&status=succeeded&limit=50`)).json()).runs as { id: number; methodId: string }[];
  const run = runs.find((r) => r.methodId !== "baseline");
  test.skip(!run, "no compressed run finished in the sweep above");
  await page.goto(`/runs/${run!.id}`);
  const link = page.getByTestId("artifact-model");
  await expect(link).toHaveText("model.onnx");
  const detail = await (await request.get(`/api/v1/runs/${run!.id}`)).json();
  const bytes = detail.artifacts.find((a: { kind: string }) => a.kind === "model").bytes;
  const [download] = await Promise.all([page.waitForEvent("download"), link.click()]);
  expect(download.suggestedFilename()).toBe(`run-${run!.id}-model.onnx`);
  expect(fs.statSync(await download.path()).size).toBe(bytes);
  // the GGUF export is offered where exact: float always, Q4_0 only for symmetric 4-bit groups of 32
  const gguf = page.getByTestId("gguf-downloads");
  await expect(gguf.getByRole("link", { name: "F32" })).toHaveAttribute("href", `/api/v1/runs/${run!.id}/gguf?type=f32`);
  // no server path anywhere on the page
  await expect(page.locator("body")).not.toContainText(os.tmpdir());

  await page.getByLabel("model id").fill(`${MODEL}-from-run`);
  await page.getByRole("button", { name: "Register" }).click();
  await expect(page.getByTestId("registered-model")).toContainText(`${MODEL}-from-run`);
  const models = (await (await request.get("/api/v1/models")).json()).models as { id: string; card: { derived_from?: { run: number } } | null }[];
  expect(models.find((m) => m.id === `${MODEL}-from-run`)?.card?.derived_from?.run).toBe(run!.id);
});

test("a sweep's parameters and metrics show as parallel coordinates, one line per finished run", async ({ page, request }) => {
  const runs = (await (await request.get(`/api/v1/runs?model=${MODEL}&status=succeeded&limit=50`)).json()).runs as {
    id: number;
    experimentId: number | null;
    methodId: string;
  }[];
  const swept = runs.filter((r) => r.methodId !== "baseline" && r.experimentId !== null);
  test.skip(swept.length < 2, "the sweep above ran no two compressed runs");
  await page.goto(`/experiments/${swept[0].experimentId}`);
  const pc = page.getByTestId("parallel-coords");
  await expect(pc).toHaveAttribute("data-lines", String(swept.filter((r) => r.experimentId === swept[0].experimentId).length));
  await expect(pc).toContainText("bits");
  await expect(pc).toContainText("Perplexity");
  // a line's bounding-box centre need not lie on the line: the pointer event goes to the path itself
  await pc.locator("path").first().dispatchEvent("mouseover");
  await expect(page.getByRole("link", { name: /^Run #\d+: bits/ })).toBeVisible();
});
