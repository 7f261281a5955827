// The virtual ward: a clinician's census of patients at home, sorted by risk and live; a
// patient's NEWS2 chart on the chart's colour bands; a set recorded on a call moves the
// patient up the census on another screen at once. Every patient is synthetic (999 range).

import { expect, test } from "@playwright/test";
import { accessible, shot, signIn } from "./helpers.js";

test("the census is sorted by risk and moves live when a reading is recorded", async ({ browser }) => {
  const watching = await (await browser.newContext()).newPage();
  const recording = await (await browser.newContext()).newPage();

  await signIn(watching, "Femi Adeyinka");
  await expect(watching).toHaveURL(/#\/virtual\/RXA01-VW-FRAILTY$/);
  const rows = watching.locator(".census tbody tr");
  await expect(rows).toHaveCount(5);
  await expect(watching.getByTestId("vw-beds")).toHaveText("5 of 15 virtual beds taken · 10 free");
  // The highest risk first, flagged, with its escalation task.
  await expect(rows.first().getByTestId("news2")).toContainText("High");
  await expect(rows.first()).toContainText("Flagged");
  await expect(rows.first()).toContainText("Emergency response");
  // The patient gone quiet: readings missed, and a task to contact them.
  await expect(watching.locator(".census td.missed")).toHaveCount(1);
  await expect(watching.locator(".census")).toContainText("Contact the patient");
  await accessible(watching, "the virtual ward census");
  await shot(watching, "virtual-ward-census");

  // The lowest on the census has a set taken on a call.
  const last = rows.last();
  const admission = await last.getAttribute("data-admission");
  await signIn(recording, "Femi Adeyinka");
  await recording.goto(`/#/virtual/RXA01-VW-FRAILTY/${admission}`);
  await expect(recording.getByRole("heading", { name: "NEWS2 chart" })).toBeVisible();
  await expect(recording.locator("figure.plot")).toHaveCount(6);
  const readings = recording.locator("table.readings tbody tr");
  const before = await readings.count();
  // An impossible value is refused, naming what is wrong; nothing is recorded.
  await recording.getByLabel("SpO2 (%)").fill("120");
  await recording.getByRole("button", { name: "Record" }).click();
  await expect(recording.locator(".record-form [role=alert]")).toContainText("SpO2 120 is not possible");
  await expect(readings).toHaveCount(before);
  for (const [label, value] of [["Respiration rate (/min)", "25"], ["SpO2 (%)", "91"], ["Systolic BP (mmHg)", "105"],
    ["Pulse (/min)", "115"], ["Temperature (°C)", "38.4"]]) await recording.getByLabel(label).fill(value);
  await recording.getByRole("button", { name: "Record" }).click();
  await expect(readings).toHaveCount(before + 1);
  await expect(recording.locator("p", { hasText: "Latest:" }).getByTestId("news2")).toContainText("NEWS2 10");
  await accessible(recording, "the NEWS2 chart");
  await shot(recording, "news2-chart");

  // On the other screen the patient is now first, scored 10, without a reload.
  await expect(rows.first()).toHaveAttribute("data-admission", admission);
  await expect(rows.first().getByTestId("news2")).toContainText("NEWS2 10");
});
