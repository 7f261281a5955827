// careflow's screens, used as people use them, in headless Chromium against the real binary
// (started with its demo by tests/e2e/browser.rs). Every patient is synthetic (999 range).

import { expect, test } from "@playwright/test";
import { accessible, shot, signIn } from "./helpers.js";

/** A valid NHS number in the 999 test range, different on every call. */
function nhsNumber() {
  for (;;) {
    const body = `999${String(Math.floor(Math.random() * 1e6)).padStart(6, "0")}`;
    const sum = [...body].reduce((acc, d, i) => acc + Number(d) * (10 - i), 0);
    const check = (11 - (sum % 11)) % 11;
    if (check !== 10) return `${body}${check}`;
  }
}


/** The first bed of the board in `status`, and its id. */
async function bedIn(page, status) {
  const tile = page.locator(`.tile[data-status=${status}]`).first();
  await expect(tile).toBeVisible();
  return [tile, await tile.getAttribute("data-bed")];
}

const tileOf = (page, bedId) => page.locator(`.tile[data-bed="${bedId}"]`);

async function admit(page, bedId, nhs, given, family) {
  await tileOf(page, bedId).click();
  await page.getByRole("button", { name: "Admit a patient" }).click();
  await page.getByLabel("NHS number").fill(nhs);
  await page.getByLabel("Given name").fill(given);
  await page.getByLabel("Family name").fill(family);
  await page.getByRole("dialog").getByRole("button", { name: "Admit a patient" }).click();
}

test("a nurse admits a patient from the bed board; a bad NHS number is named at its field", async ({ page }) => {
  await signIn(page, "Grace Okafor");
  await expect(page).toHaveURL(/#\/beds\/RXA01\/RXA01-AMU$/);
  await expect(page.getByRole("heading", { name: /Bed board: Acute Medical Unit/ })).toBeVisible();
  await accessible(page, "the bed board");
  await shot(page, "bed-board");

  const [, bedId] = await bedIn(page, "AVAILABLE");
  await admit(page, bedId, "999 000 0019", "Ada", "Quillfeather");
  const field = page.locator(".field.has-error", { has: page.getByLabel("NHS number") });
  await expect(field.locator(".field-error")).toContainText(/NHS number|check digit/i);
  await accessible(page, "the admit form with an error");
  await shot(page, "bed-admit-error");

  const nhs = nhsNumber();
  await page.getByLabel("NHS number").fill(nhs);
  await page.getByRole("dialog").getByRole("button", { name: "Admit a patient" }).click();
  await expect(page.getByRole("dialog")).toBeHidden();
  await expect(tileOf(page, bedId)).toHaveAttribute("data-status", "OCCUPIED");
  await expect(tileOf(page, bedId)).toContainText("QUILLFEATHER, Ada");

  // Tapping the occupied bed offers what is legal from OCCUPIED, and only that.
  await tileOf(page, bedId).click();
  const actions = page.getByRole("dialog").locator(".actions button");
  await expect(actions).toHaveText(["Transfer", "Set expected discharge date", "Mark medically optimised", "Discharge"]);
  await accessible(page, "a bed's actions");
  await shot(page, "bed-actions");
  await page.getByRole("button", { name: "Mark medically optimised" }).click();
  await page.getByLabel("Pathway").selectOption("1");
  await page.getByRole("dialog").getByRole("button", { name: "Mark medically optimised" }).click();
  await expect(page.getByRole("dialog")).toBeHidden();
  await expect(tileOf(page, bedId)).toContainText("Medically optimised · P1");

  // Portrait: the same board, tiles reflowed.
  await page.setViewportSize({ width: 820, height: 1180 });
  await expect(tileOf(page, bedId)).toBeVisible();
  await shot(page, "bed-board-portrait");
});

test("housekeeping sees the cleaning task arrive live after a discharge; completing it frees the nurse's bed", async ({ browser }) => {
  const nurse = await (await browser.newContext()).newPage();
  const housekeeper = await (await browser.newContext()).newPage();
  await signIn(nurse, "Grace Okafor");
  const [, bedId] = await bedIn(nurse, "AVAILABLE");
  await admit(nurse, bedId, nhsNumber(), "Bram", "Oxley");
  await expect(tileOf(nurse, bedId)).toHaveAttribute("data-status", "OCCUPIED");

  await signIn(housekeeper, "Lina Marsh");
  await expect(housekeeper).toHaveURL(/#\/inbox\/RXA01-HOUSEKEEPING$/);
  await expect(housekeeper.getByRole("heading", { name: /Team inbox: Northgate General Hospital housekeeping/ })).toBeVisible();
  const task = housekeeper.locator(".task", { hasText: `Clean bed ${bedId}` });
  await expect(task).toHaveCount(0);

  await tileOf(nurse, bedId).click();
  await nurse.getByRole("button", { name: "Discharge", exact: true }).click();
  await nurse.getByLabel("Destination").selectOption("USUAL_RESIDENCE");
  await nurse.getByLabel("Pathway").selectOption("0");
  await nurse.getByRole("dialog").getByRole("button", { name: "Discharge" }).click();
  await expect(tileOf(nurse, bedId)).toHaveAttribute("data-status", "AWAITING_CLEANING");

  // Over the subscription: no reload.
  await expect(task).toHaveCount(1);
  await accessible(housekeeper, "the team inbox");
  await shot(housekeeper, "inbox");
  await task.click();
  await expect(housekeeper.getByRole("dialog").getByRole("heading", { name: `Clean bed ${bedId}` })).toBeVisible();
  await accessible(housekeeper, "a task");
  await housekeeper.getByRole("button", { name: "Complete" }).click();
  await housekeeper.getByLabel("Outcome").fill("Cleaned and made up");
  await housekeeper.getByRole("button", { name: "Complete the task" }).click();
  await expect(task).toHaveCount(0);

  // careflow marked the bed cleaned; the nurse's board shows it, live.
  await expect(tileOf(nurse, bedId)).toHaveAttribute("data-status", "AVAILABLE");
});

test("a command whose answer was lost, or given offline, is sent again with its commandId and carried out once", async ({ page, context }) => {
  await signIn(page, "Grace Okafor");
  const [, bedId] = await bedIn(page, "AVAILABLE");

  // The first admission reaches careflow, but its answer never reaches the tablet; the second
  // meets a proxy's error page; the third gets through.
  let lost = 0;
  const commandIds = [];
  await page.route("**/graphql", async (route) => {
    const body = route.request().postData() || "";
    if (!body.includes("admitPatient") || lost >= 2) return route.continue();
    lost += 1;
    commandIds.push(JSON.parse(body).variables.input.commandId);
    if (lost === 1) {
      await route.fetch();
      await route.abort("connectionfailed");
    } else {
      await route.fulfill({ status: 502, contentType: "application/json", body: JSON.stringify({ message: "Bad Gateway" }) });
    }
  });
  const nhs = nhsNumber();
  await admit(page, bedId, nhs, "Cora", "Villiers");
  await expect(page.getByRole("dialog")).toBeHidden();
  await expect(tileOf(page, bedId)).toHaveAttribute("data-status", "OCCUPIED");
  await expect(page.getByTestId("pending")).toBeHidden();
  expect(lost).toBe(2);
  expect(new Set(commandIds).size, "every attempt carries the same commandId").toBe(1);

  // Offline: the connection is shown lost; a command is kept, then sent when it is back.
  await context.setOffline(true);
  await expect(page.getByText(/Connection lost: reconnecting/)).toBeVisible();
  await tileOf(page, bedId).click();
  await page.getByRole("button", { name: "Set expected discharge date" }).click();
  await page.getByLabel("Expected discharge date").fill("2099-01-31");
  await page.getByRole("dialog").getByRole("button", { name: "Set expected discharge date" }).click();
  await expect(page.getByTestId("pending")).toHaveText("1 change waiting to be sent");
  await expect(tileOf(page, bedId)).toContainText("Change waiting to be sent");
  await context.setOffline(false);
  await expect(page.getByTestId("pending")).toBeHidden();
  await expect(page.getByText(/Connection lost/)).toBeHidden();
  await expect(tileOf(page, bedId)).toContainText("EDD 31 Jan 2099");

  // Once each: the patient's record has one admission and one expected discharge date.
  await page.goto(`/#/patient/${nhs}`);
  await expect(page.getByRole("heading", { name: "VILLIERS, Cora" })).toBeVisible();
  const token = await page.evaluate(() => JSON.parse(localStorage.getItem("careflow.session")).token);
  const response = await page.request.post("/graphql", {
    headers: { authorization: `Bearer ${token}` },
    data: { query: `{ patient(nhsNumber: "${nhs}") { timeline { eventType } } }` },
  });
  const events = (await response.json()).data.patient.timeline.map((e) => e.eventType);
  expect(events.filter((e) => e === "PatientAdmitted")).toHaveLength(1);
  expect(events.filter((e) => e === "ExpectedDischargeDateSet")).toHaveLength(1);
});

test("site capacity, live, and the patient summary, found by name and date of birth", async ({ page }) => {
  await signIn(page, "Priya Castell");
  await expect(page).toHaveURL(/#\/capacity\/RXA01$/);
  const amu = page.locator("tr[data-ward=RXA01-AMU]");
  await expect(amu.locator("td").first()).toHaveText("40");
  // The virtual wards' beds, counted apart.
  await expect(page.getByTestId("virtual-beds")).toContainText("12 of 35 virtual beds taken · 23 free");
  await expect(page.locator("tr[data-virtual-ward=RXA01-VW-RESP] td").first()).toHaveText("20");
  await accessible(page, "site capacity");
  await shot(page, "capacity");

  // A bed blocked elsewhere moves the ward's count, live.
  const token = await page.evaluate(() => JSON.parse(localStorage.getItem("careflow.session")).token);
  const gql = async (query) => {
    const response = await page.request.post("/graphql", { headers: { authorization: `Bearer ${token}` }, data: { query } });
    const body = await response.json();
    expect(body.errors, JSON.stringify(body.errors)).toBeUndefined();
    return body.data;
  };
  const board = (await gql(`{ bedBoard(wardId: "RXA01-ELM") { id status } }`)).bedBoard;
  const free = board.find((b) => b.status === "AVAILABLE");
  const elm = page.locator("tr[data-ward=RXA01-ELM] td");
  const blocked = Number(await elm.nth(4).textContent());
  await gql(`mutation { blockBed(input: { bedId: "${free.id}", reason: MAINTENANCE }) { visible } }`);
  await expect(elm.nth(4)).toHaveText(String(blocked + 1));

  const response = await page.request.post("/graphql", {
    headers: { authorization: `Bearer ${token}` },
    data: { query: `{ searchPatients(postcode: "LS6 2QB") { nhsNumber givenName familyName dateOfBirth sharingDissent } }` },
  });
  const someone = (await response.json()).data.searchPatients.find((p) => !p.sharingDissent);
  await page.getByRole("link", { name: "Patients" }).click();
  await page.getByLabel("Family name").fill(someone.familyName);
  await page.getByRole("button", { name: "Find" }).click();
  await expect(page.getByText("Enter the date of birth with the family name")).toBeVisible();
  await page.getByLabel("Date of birth").fill(someone.dateOfBirth);
  await page.getByRole("button", { name: "Find" }).click();
  await page.getByRole("link", { name: new RegExp(`${someone.familyName.toUpperCase()}, ${someone.givenName}`) }).first().click();
  await expect(page.getByRole("heading", { name: `${someone.familyName.toUpperCase()}, ${someone.givenName}` })).toBeVisible();
  await expect(page.getByRole("heading", { name: "Active flags" })).toBeVisible();
  await expect(page.getByRole("heading", { name: "Timeline" })).toBeVisible();
  await accessible(page, "the patient summary");
  await shot(page, "patient");
});

test("a council social worker claims, comments and hands a task to another council, which accepts it", async ({ browser }) => {
  const sam = await (await browser.newContext()).newPage();
  const mo = await (await browser.newContext()).newPage();
  await signIn(sam, "Sam Whitlow");
  await expect(sam).toHaveURL(/#\/inbox\/LA001-HSWT$/);
  const row = sam.locator(".task", { has: sam.locator(".badge", { hasText: /^Open$/ }) }).first();
  await expect(row).toBeVisible();
  const taskId = await row.getAttribute("data-task");
  const title = await row.locator(".task-title").textContent();
  const dialog = sam.getByRole("dialog");
  await row.click();
  await dialog.getByRole("button", { name: "Claim" }).click();
  await expect(dialog.locator(".task-facts")).toContainText("Claimed by1.la001-hswt");
  await dialog.getByRole("button", { name: "Comment" }).click();
  await dialog.getByLabel("Comment").fill("Spoke to the daughter: she can be there on the day");
  await dialog.getByRole("button", { name: "Add the comment" }).click();
  await expect(dialog.locator(".history")).toContainText("Spoke to the daughter");

  await signIn(mo, "Mo Hartigan");
  await expect(mo).toHaveURL(/#\/inbox\/LA002-HSWT$/);
  const offered = mo.locator(`.task[data-task="${taskId}"]`);
  await expect(offered).toHaveCount(0);

  await dialog.getByRole("button", { name: "Hand off" }).click();
  await dialog.getByLabel("Hand off to").selectOption({ label: "Bradley Council hospital social work team" });
  await dialog.getByLabel("Note for the receiving team (optional)").fill("Lives in BD7 now: yours");
  await accessible(sam, "the hand-off form");
  await dialog.getByRole("button", { name: "Hand off" }).click();
  await expect(dialog.locator(".task-facts")).toContainText("Hand-off pending");

  // Bradley's team sees it offered, live, and takes it.
  await expect(offered).toContainText("Offered to your team");
  await offered.click();
  await mo.getByRole("dialog").getByRole("button", { name: "Accept the hand-off" }).click();
  await expect(mo.getByRole("dialog").locator(".task-facts")).toContainText("Open");
  await expect(mo.getByRole("dialog").locator(".history")).toContainText("LA001 → LA002");
  await expect(mo.getByRole("dialog").getByRole("heading", { name: title })).toBeVisible();
  // And it has left Airedale's inbox.
  await expect(sam.locator(`.task[data-task="${taskId}"]`)).toHaveCount(0);
});

test("the bed board works from the keyboard alone", async ({ page }) => {
  await signIn(page, "Tom Birchall");
  await page.getByLabel("Ward").selectOption({ label: "Oak Ward" });
  await expect(page).toHaveURL(/#\/beds\/RXA01\/RXA01-OAK$/);
  await expect(page.getByRole("heading", { name: /Bed board: Oak Ward/ })).toBeVisible();
  const [tile, bedId] = await bedIn(page, "AVAILABLE");
  await tile.focus();
  await page.keyboard.press("Enter");
  const dialog = page.getByRole("dialog");
  await expect(dialog).toBeVisible();
  // Focus is in the dialog, Tab stays there, Escape closes it and focus is back on the tile.
  await expect(dialog.locator(":focus")).toHaveCount(1);
  for (let i = 0; i < 6; i += 1) await page.keyboard.press("Tab");
  await expect(dialog.locator(":focus")).toHaveCount(1);
  await page.keyboard.press("Escape");
  await expect(dialog).toBeHidden();
  await expect(tileOf(page, bedId)).toBeFocused();
  // Block it with the keyboard: choose the action, the reason, send.
  await page.keyboard.press("Enter");
  await dialog.getByRole("button", { name: "Block" }).focus();
  await page.keyboard.press("Enter");
  await page.getByLabel("Reason").selectOption("STAFFING");
  await page.getByLabel("Details (optional)").focus();
  await page.keyboard.type("No nurse for the side room tonight");
  await page.keyboard.press("Enter");
  await expect(dialog).toBeHidden();
  await expect(tileOf(page, bedId)).toHaveAttribute("data-status", "BLOCKED");
  await expect(tileOf(page, bedId)).toContainText("Staffing");
});

test("the sign-in page is accessible", async ({ page }) => {
  await page.goto("/");
  await expect(page.getByRole("heading", { name: "Development: choose a demo person" })).toBeVisible();
  await accessible(page, "sign-in");
  await shot(page, "sign-in");
});
