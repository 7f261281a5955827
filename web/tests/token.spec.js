// Signing in outside development: careflow runs with a secret of its own, so there are no demo
// people; the app takes a bearer token from the organisation's identity provider. Run by
// tests/e2e/browser.rs against such a careflow, with a token it signed in CAREFLOW_TOKEN (and
// one signed with another secret in CAREFLOW_FORGED_TOKEN).

import { expect, test } from "@playwright/test";
import { accessible } from "./helpers.js";

test.skip(!process.env.CAREFLOW_TOKEN, "needs a careflow with its own secret (tests/e2e/browser.rs)");

test("without the development secret the app asks for the organisation's token", async ({ page }) => {
  expect((await page.request.get("/dev/personas")).status()).toBe(404);
  await page.goto("/");
  await expect(page.getByRole("heading", { name: "Sign in with your organisation's token" })).toBeVisible();
  await accessible(page, "the token sign-in");
  const field = page.getByLabel("Bearer token");
  await page.getByRole("button", { name: "Sign in" }).click();
  await expect(page.locator(".field-error")).toHaveText("Paste the token your organisation's sign-in gave you");
  await field.fill("not-a-token");
  await page.getByRole("button", { name: "Sign in" }).click();
  await expect(page.locator(".field-error")).toHaveText(/not a careflow token/);

  // Signed with another secret: it looks like a token, and careflow refuses it.
  await field.fill(process.env.CAREFLOW_FORGED_TOKEN);
  await page.getByRole("button", { name: "Sign in" }).click();
  await expect(page.getByRole("alert")).toContainText("careflow did not accept your sign-in");
  await expect(page.getByRole("heading", { name: "Sign in with your organisation's token" })).toBeVisible();

  await page.getByLabel("Bearer token").fill(`Bearer ${process.env.CAREFLOW_TOKEN}`);
  await page.getByRole("button", { name: "Sign in" }).click();
  await expect(page.getByTestId("who")).toHaveText("nurse.okafor");
  await expect(page.getByRole("heading", { name: /Bed board: Acute Medical Unit/ })).toBeVisible();
  await expect(page.locator(".tile").first()).toBeVisible();
});
