import { expect, test } from "@playwright/test";

// Runs first (files run in name order): the fresh e2e database has no runs yet.
test("an empty database explains Frontier and offers one demo button, or says what it lacks", async ({ page, request }) => {
  const runs = await (await request.get("/api/v1/runs?limit=1")).json();
  test.skip(runs.total > 0, "the database already has runs");
  await page.goto("/");
  const panel = page.getByTestId("first-run");
  await expect(panel).toContainText("Frontier runs model-compression methods");
  const button = page.getByTestId("demo-button");
  const models = (await (await request.get("/api/v1/models")).json()).models as { id: string }[];
  if (models.some((m) => m.id === "zoo-base")) {
    await expect(button).toBeEnabled();
    await expect(button).toContainText(/Run a demo sweep on zoo-base and shape-125m \(\d+ runs/);
  } else {
    await expect(button).toBeDisabled();
    await expect(button).toContainText('The zoo model "zoo-base" is not registered');
  }
});
