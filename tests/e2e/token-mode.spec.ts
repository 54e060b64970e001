import fs from "node:fs";
import path from "node:path";
import { startTokenServer, type TokenServer } from "./token-server";
import { expect, test } from "@playwright/test";

/**
 * A second server, `npm start` in token mode (FRONTIER_AUTH=token) on its own port and database, driven through the
 * dashboard: an anonymous visitor is offered "Sign in", the sign-in page takes an API token from `npm run token`, a
 * signed-in write needs the CSRF token, and signing out ends the session.
 */
const port = Number(process.env.E2E_TOKEN_PORT ?? 3101);
const base = `http://127.0.0.1:${port}`;
let srv: TokenServer | undefined;
let dir: string;
let token: string;

test.beforeAll(async () => {
  test.setTimeout(300_000);
  srv = await startTokenServer({ port, read: "open", name: "user" });
  token = srv.token;
  dir = srv.dir;
});

test.afterAll(async () => {
  await srv?.stop();
});

/** A write from the page itself (same origin, cookies included), with or without the CSRF header; runs in the browser. */
const postRun = async (withCsrf: boolean) => {
  const csrf = /(?:^|;\s*)frontier_csrf=([^;]+)/.exec(document.cookie)?.[1];
  const res = await fetch("/api/v1/runs", {
    method: "POST",
    headers: { "content-type": "application/json", ...(withCsrf && csrf ? { "x-frontier-csrf": csrf } : {}) },
    body: JSON.stringify({ methodId: "baseline", modelId: "m", datasetId: "d", runtime: "cpu", metrics: { accuracy: 0.5 } }),
  });
  return res.status;
};

test("token mode: sign in with an API token, write with the CSRF token, revoke a worker, sign out", async ({ page }) => {
  await page.goto(`${base}/runs`);
  await expect(page.getByTestId("auth-status")).toContainText("Sign in");
  expect(await page.evaluate(postRun, true)).toBe(401);

  await page.getByTestId("auth-status").getByRole("link", { name: "Sign in" }).click();
  await expect(page).toHaveURL(/\/signin\?next=%2Fruns/);
  const form = page.getByTestId("signin-form");
  await form.getByLabel("API token").fill("ft_not-a-token");
  await form.getByRole("button", { name: "Sign in" }).click();
  await expect(form.getByRole("alert")).toContainText("unknown or revoked API token");

  await form.getByLabel("API token").fill(token);
  await form.getByRole("button", { name: "Sign in" }).click();
  await expect(page).toHaveURL(`${base}/runs`);
  await expect(page.getByTestId("auth-status")).toContainText("signed in as e2e-user");
  // The session cookie is http-only: the page's script cannot read it.
  expect(await page.evaluate(() => document.cookie)).not.toContain("frontier_session");
  expect(await page.evaluate(postRun, false)).toBe(403);
  expect(await page.evaluate(postRun, true)).toBe(201);

  // The Workers page revokes an enrolled worker (a signed-in write with the CSRF token); its next lease is refused.
  const enroll = fs.readFileSync(path.join(dir, "data", "enroll-token"), "utf8").trim();
  const fp = { runtime: "cpu", ortVersion: "1.30.0", cpuModel: "e2e CPU", cpuCores: 2, memoryBytes: 8e9, platform: "linux-x64", nodeVersion: "v20" };
  const registered = await fetch(`${base}/api/v1/workers/register`, {
    method: "POST",
    headers: { "content-type": "application/json", authorization: `Bearer ${enroll}` },
    body: JSON.stringify({ name: "e2e-gpu-node", capabilities: { runtimes: ["cpu"] }, hardware: { cpu: fp } }),
  });
  expect(registered.status).toBe(201);
  const worker = (await registered.json()) as { workerId: string; token: string };
  await page.getByRole("link", { name: "Workers" }).click();
  const row = page.getByTestId("workers-table").getByRole("row").filter({ hasText: worker.workerId });
  await expect(row).toContainText("active");
  page.once("dialog", (d) => d.accept());
  await row.getByRole("button", { name: "Revoke" }).click();
  await expect(row).toContainText("revoked");
  const lease = await fetch(`${base}/api/v1/workers/lease`, {
    method: "POST",
    headers: { "content-type": "application/json", authorization: `Bearer ${worker.token}` },
    body: "{}",
  });
  expect(lease.status).toBe(401);

  await page.getByTestId("auth-status").getByRole("button", { name: "Sign out" }).click();
  await expect(page).toHaveURL(`${base}/signin`);
  expect(await page.evaluate(postRun, true)).toBe(401);
});
