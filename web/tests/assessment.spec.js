// The trusted assessment, completed together: a council social worker starts it from the
// trusted-assessment task in the team's inbox; a ward nurse opens it too; each sees where the
// other is, they save different sections at the same moment and each sees the other's answers
// arrive; then both change one section, and the conflict is shown and resolved. Every patient
// is synthetic (999 range).

import { expect, test } from "@playwright/test";
import { accessible, shot, signIn } from "./helpers.js";

const section = (page, id) => page.locator(`.sections a[data-section="${id}"]`);
const question = (page, id) => page.locator(`[data-question="${id}"]`);

test("a nurse and a social worker complete one assessment at the same time, then resolve a conflict", async ({ browser }) => {
  const sam = await (await browser.newContext()).newPage();
  const grace = await (await browser.newContext()).newPage();

  // Sam starts the assessment from the trusted-assessment task.
  await signIn(sam, "Sam Whitlow");
  await expect(sam).toHaveURL(/#\/inbox\/LA001-HSWT$/);
  const task = sam.locator(".task", { has: sam.locator(".badge", { hasText: /^Trusted assessment$/ }) }).last();
  await expect(task).toBeVisible();
  await task.click();
  await sam.getByRole("dialog").getByRole("button", { name: "Start the trusted assessment" }).click();
  await expect(sam).toHaveURL(/#\/assessment\/[0-9a-f-]{36}$/);
  await expect(sam.getByRole("heading", { name: "Reablement trusted assessment" })).toBeVisible();
  const url = sam.url().replace(/^[^#]*/, "");

  // Grace opens it; each goes to their own section and sees the other there.
  await signIn(grace, "Grace Okafor");
  await grace.goto(`/${url}/frailty`);
  await expect(grace.getByRole("heading", { name: /Clinical Frailty Scale|Frailty/ }).first()).toBeVisible();
  await sam.goto(`/${url}/goals-and-wishes`);
  await expect(sam.getByTestId("presence")).toContainText("1.rxa01-amu-team");
  await expect(sam.getByTestId("presence")).toContainText("in Clinical Frailty Scale");
  await expect(grace.getByTestId("presence")).toContainText("1.la001-hswt");
  await expect(section(grace, "goals-and-wishes")).toContainText("1.la001-hswt here");
  await accessible(grace, "the assessment form");
  await shot(grace, "assessment");

  // Different sections at the same moment: both saved, each sees the other's.
  await question(grace, "clinical-frailty-scale").getByRole("radio", { name: /^6 — / }).check();
  await question(sam, "what-matters").getByRole("textbox").fill("Getting back to my allotment");
  await question(sam, "goals").getByRole("textbox").fill("To walk to the post office by myself");
  await question(sam, "preferred-place-of-care").getByRole("radio").first().check();
  await Promise.all([
    grace.getByRole("button", { name: "Save the section" }).click(),
    sam.getByRole("button", { name: "Save the section" }).click(),
  ]);
  await expect(section(sam, "frailty")).toContainText("Saved, v1");
  await expect(section(grace, "goals-and-wishes")).toContainText("Saved, v1");
  await section(sam, "frailty").click();
  await expect(sam.getByTestId("section-meta")).toContainText("saved by 1.rxa01-amu-team");
  await expect(question(sam, "clinical-frailty-scale").getByRole("radio", { name: /^6 — / })).toBeChecked();
  await section(grace, "goals-and-wishes").click();
  await expect(question(grace, "what-matters").getByRole("textbox")).toHaveValue("Getting back to my allotment");

  // Grace signs off her section; Sam sees it signed.
  await section(grace, "frailty").click();
  await grace.getByRole("button", { name: "Sign off the section" }).click();
  await expect(section(sam, "frailty")).toContainText("Signed off");

  // Both change the risks: Sam is still typing when Grace saves; Sam's save shows both versions.
  await section(sam, "risks").click();
  await section(grace, "risks").click();
  await question(sam, "risk-plan").getByRole("textbox").fill("Key safe and pendant alarm before discharge");
  await question(sam, "risks-identified").getByRole("checkbox").first().check();
  await question(grace, "risk-plan").getByRole("textbox").fill("Night-time confusion: sensor mat");
  await question(grace, "risks-identified").getByRole("checkbox").first().check();
  await grace.getByRole("button", { name: "Save the section" }).click();
  await expect(grace.getByTestId("section-meta")).toContainText("Version 1");
  await expect(sam.getByRole("status").filter({ hasText: "saved this section (version 1) while you were changing it" })).toBeVisible();
  await sam.getByRole("button", { name: "Save the section" }).click();
  const conflict = sam.locator(".conflict");
  await expect(conflict).toContainText("1.rxa01-amu-team saved this section while you were changing it");
  await expect(conflict.locator('tr[data-question="risk-plan"]')).toContainText("Night-time confusion: sensor mat");
  await expect(conflict.locator('tr[data-question="risk-plan"]')).toContainText("Key safe and pendant alarm before discharge");
  await accessible(sam, "the conflict view");
  await shot(sam, "assessment-conflict");
  await sam.getByRole("button", { name: "Save mine over theirs" }).click();
  await expect(conflict).toHaveCount(0);
  await expect(sam.getByTestId("section-meta")).toContainText("Version 2, saved by 1.la001-hswt");
  // Grace had nothing unsaved: she now sees Sam's answers.
  await expect(question(grace, "risk-plan").getByRole("textbox")).toHaveValue("Key safe and pendant alarm before discharge");

  // Grace leaves; Sam sees her go.
  await grace.close();
  await expect(sam.getByTestId("presence")).not.toContainText("1.rxa01-amu-team");
});
