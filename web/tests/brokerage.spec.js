// Care brokerage: Airedale Council's market (LA001) seen by its broker, live, with every offer
// ranked and its score explained; a care provider sees only the requests it may take, never who
// the person is, offers, and learns the outcome; the broker accepts the best-ranked offer; a
// commissioner watches without identities and accepts nothing. Every patient is synthetic.

import { expect, test } from "@playwright/test";
import { accessible, shot, signIn } from "./helpers.js";

/** An NHS number, with or without its spaces. */
const NHS_NUMBER = /\b\d{3}\s?\d{3}\s?\d{4}\b/;

/** The market's row of the request in play for `need` in `district`. */
function requestRow(page, need, district) {
  return page.locator(".requests tbody tr")
    .filter({ has: page.getByRole("link", { name: need, exact: true }) })
    .filter({ has: page.locator("td", { hasText: new RegExp(`^${district}$`) }) });
}

/** The date `days` from today, as a date field takes it (YYYY-MM-DD). */
function inDays(days) {
  const d = new Date(Date.now() + days * 86400000);
  return `${d.getFullYear()}-${String(d.getMonth() + 1).padStart(2, "0")}-${String(d.getDate()).padStart(2, "0")}`;
}

test("a provider sees only what it may, offers, and the broker sees it ranked live", async ({ browser }) => {
  const nadia = await (await browser.newContext()).newPage();
  const dev = await (await browser.newContext()).newPage();

  await signIn(nadia, "Nadia Kerrigan");
  await expect(nadia).toHaveURL(/#\/market$/);
  await expect(nadia.getByRole("heading", { name: "Care market: LA001" })).toBeVisible();
  await expect(nadia.getByTestId("rule")).toContainText("quality (the CQC rating) 60% and cost 40%: careflow's default");
  await expect(nadia.getByTestId("finished").locator("tbody tr").first()).toContainText("Placed with Oakleigh Care Home");
  await expect(nadia.locator('.vacancy-map tr[data-district="LS8"] td[data-care-type="RESIDENTIAL"]')).toContainText("free");
  await expect(nadia.locator('.providers tr[data-provider="VN105"]')).toContainText("Suspended");
  const row = requestRow(nadia, "Residential care, standard bed", "LS8");
  await expect(row.getByTestId("offer-count")).toHaveText("0");
  await expect(row).toContainText("£980.00 a week");
  await expect(row).toContainText(/\d+ h \d+ min left/);
  const requestId = await row.getAttribute("data-request");
  await row.getByRole("link").click();
  await expect(nadia).toHaveURL(new RegExp(`#/market/${requestId}$`));
  const detail = nadia.getByTestId("request-detail");
  await expect(detail.getByRole("heading", { name: "Residential care, standard bed in LS8" })).toBeFocused();
  await expect(detail).toContainText("No offers yet");
  // The broker sees who it is for; the provider must not.
  const name = (await detail.getByTestId("person-name").textContent()).trim();
  expect(name).not.toBe("Name not recorded");
  const nhs = (await detail.getByTestId("person").getByRole("link").textContent()).replace(/\s/g, "");
  expect(nhs).toMatch(/^\d{10}$/);

  await signIn(dev, "Dev Sandhu");
  await expect(dev).toHaveURL(/#\/provider$/);
  await expect(dev.getByRole("heading", { name: "Provider portal: Beechwood Nursing Home" })).toBeVisible();
  const mayOffer = dev.getByRole("list", { name: "Requests you may offer on" });
  const yours = dev.getByRole("list", { name: "Your offers" });
  const card = mayOffer.locator(`[data-request="${requestId}"]`);
  await expect(card.getByRole("heading", { name: "Residential care, standard bed in LS8" })).toBeVisible();
  await expect(card.getByTestId("care-needs")).toBeVisible();
  await expect(card).toContainText(/\d+ h \d+ min left/);
  // Beechwood's own offer on the nursing request, live; Oakleigh's requests are not its to see.
  await expect(yours.locator(".care-request")).toHaveCount(1);
  await expect(yours.getByTestId("offer-state")).toHaveText("Live");
  // Nothing anywhere says who anyone is: no NHS number, no name, no budget.
  const seen = await dev.locator("body").innerText();
  expect(seen).not.toMatch(NHS_NUMBER);
  expect(seen.replace(/\s/g, "")).not.toContain(nhs);
  expect(seen).not.toContain(name);
  expect(seen).not.toContain("£980.00");
  await accessible(dev, "the provider portal");
  await shot(dev, "provider-portal");

  // An empty form is refused here, each field named.
  await card.getByRole("button", { name: /^Make an offer/ }).click();
  const dialog = dev.getByRole("dialog");
  await dialog.getByRole("button", { name: "Send the offer" }).click();
  const price = dialog.locator(".field", { has: dev.getByLabel("Weekly price (£)") });
  const start = dialog.locator(".field", { has: dev.getByLabel("Earliest start") });
  await expect(price.locator(".field-error")).toHaveText("Enter the weekly price, in pounds");
  await expect(start.locator(".field-error")).toHaveText("Enter the earliest date the care can start");
  await accessible(dev, "the offer form with its errors");
  await shot(dev, "provider-offer-errors");
  // careflow judges the date: one in the past is named at its field.
  await dev.getByLabel("Weekly price (£)").fill("905.50");
  await dev.getByLabel("Earliest start").fill("2020-01-06");
  await dialog.getByRole("button", { name: "Send the offer" }).click();
  await expect(start.locator(".field-error")).toHaveText("The earliest start is in the past");
  await expect(price.locator(".field-error")).toHaveCount(0);
  await dev.getByLabel("Earliest start").fill(inDays(7));
  await dev.getByLabel("Note for the broker (optional)").fill("Ground-floor room free from Monday");
  await dialog.getByRole("button", { name: "Send the offer" }).click();
  await expect(dialog).toBeHidden();
  await expect(dev.getByRole("status").filter({ hasText: "Your offer of £905.50 a week" })).toBeVisible();
  await expect(card).toHaveCount(0);
  const mine = yours.locator(`[data-request="${requestId}"]`);
  await expect(mine.getByTestId("offer-state")).toHaveText("Live");
  await expect(mine).toContainText("£905.50 a week");
  await expect(mine.getByRole("button", { name: /^Withdraw/ })).toBeVisible();

  // On the broker's screen, without a reload: the offer, ranked, its score explained.
  const offer = detail.locator('.offer[data-provider="VN102"]');
  await expect(offer.getByRole("heading", { name: "Beechwood Nursing Home" })).toBeVisible();
  await expect(offer.getByTestId("rank")).toHaveText("Ranked 1 of 1");
  await expect(offer).toContainText("£905.50 a week");
  await expect(offer).toContainText("Ground-floor room free from Monday");
  const explained = offer.getByTestId("explanation");
  await expect(explained.locator("tbody tr")).toHaveCount(2);
  await expect(explained.locator('tr[data-criterion="QUALITY"]')).toContainText("60%");
  await expect(explained.locator('tr[data-criterion="COST"]')).toContainText("40%");
  await expect(offer.getByRole("button", { name: /^Accept/ })).toBeVisible();
  await expect(row.getByTestId("offer-count")).toHaveText("1");
  await accessible(nadia, "the care market with a request open");
  await shot(nadia, "care-market");
});

test("the broker accepts the best-ranked offer and the provider learns the outcome", async ({ browser }) => {
  const nadia = await (await browser.newContext()).newPage();
  const ruth = await (await browser.newContext()).newPage();

  await signIn(nadia, "Nadia Kerrigan");
  const row = requestRow(nadia, "Residential care, standard bed", "LS6");
  const requestId = await row.getAttribute("data-request");
  await signIn(ruth, "Ruth Calloway");
  await expect(ruth).toHaveURL(/#\/provider$/);
  const ruths = ruth.getByRole("list", { name: "Your offers" }).locator(`[data-request="${requestId}"]`);
  await expect(ruths.getByTestId("offer-state")).toHaveText("Live");
  await expect(ruths.getByTestId("placement")).toHaveCount(0);
  expect(await ruths.innerText()).not.toMatch(NHS_NUMBER);

  // Under the default rule (60% quality, 40% cost) Good at £930 beats Requires improvement at £880.
  await row.getByRole("link").click();
  const detail = nadia.getByTestId("request-detail");
  await expect(detail.locator(".offer")).toHaveCount(2);
  const oakleigh = detail.locator('.offer[data-provider="VN101"]');
  const hollyBank = detail.locator('.offer[data-provider="VN103"]');
  await expect(detail.locator(".offer").first()).toHaveAttribute("data-provider", "VN101");
  await expect(oakleigh.getByTestId("rank")).toHaveText("Ranked 1 of 2");
  await expect(oakleigh).toContainText("CQC: Good");
  await expect(oakleigh).toContainText("£930.00 a week");
  await expect(oakleigh.getByTestId("explanation").locator('tr[data-criterion="QUALITY"]')).toContainText("60%");
  await expect(hollyBank.getByTestId("rank")).toHaveText("Ranked 2 of 2");
  await expect(hollyBank).toContainText("£880.00 a week");
  const name = (await detail.getByTestId("person-name").textContent()).trim();

  // Accepting asks first.
  nadia.once("dialog", (asked) => asked.accept());
  await oakleigh.getByRole("button", { name: /^Accept/ }).click();
  await expect(detail.getByRole("status")).toContainText("Placement agreed with Oakleigh Care Home");
  await expect(detail.getByTestId("placement")).toContainText("1 of 2");
  await expect(hollyBank).toContainText("Declined: another offer was accepted");
  await expect(detail.getByRole("button", { name: /^Accept/ })).toHaveCount(0);
  // It has left the requests in play for the placements, with its time to placement.
  await expect(nadia.locator(`.requests tr[data-request="${requestId}"]`)).toHaveCount(0);
  const placed = nadia.getByTestId("finished").locator(`tr[data-request="${requestId}"]`);
  await expect(placed).toContainText("Placed with Oakleigh Care Home");
  await expect(placed).toContainText("£930.00 a week");
  await expect(placed.locator("td").last()).toHaveText(/\d+ (h|min)/);
  await accessible(nadia, "the care market after a placement");
  await shot(nadia, "care-market-placed");

  // Oakleigh learns it live, and now who the person is.
  await expect(ruths.getByTestId("offer-state")).toHaveText("Accepted");
  await expect(ruths.getByTestId("placement")).toContainText(`Placement agreed: ${name}, NHS `);
  await expect(ruths.getByTestId("placement")).toHaveText(NHS_NUMBER);
  await expect(ruths.getByRole("button", { name: /^Withdraw/ })).toHaveCount(0);
  await accessible(ruth, "the provider portal after a placement");
  await shot(ruth, "provider-placement");
});

test("a commissioner watches the market ranked, without who anyone is, and accepts nothing", async ({ page }) => {
  await signIn(page, "Owen Blythe");
  await expect(page).toHaveURL(/#\/market$/);
  const screens = page.getByRole("navigation", { name: "Screens" });
  await expect(screens.getByRole("link", { name: "Care market" })).toHaveAttribute("aria-current", "page");
  await expect(screens.getByRole("link", { name: "Provider portal" })).toHaveCount(0);
  await requestRow(page, "Nursing care, standard bed", "LS7").getByRole("link").click();
  const detail = page.getByTestId("request-detail");
  await expect(detail.getByTestId("rank")).toHaveText(["Ranked 1 of 2", "Ranked 2 of 2"]);
  await expect(detail.getByTestId("explanation")).toHaveCount(2);
  await expect(detail).toContainText("Only the council's brokers see who the person is.");
  await expect(detail.getByRole("button", { name: /^Accept/ })).toHaveCount(0);
  expect(await page.locator("main").innerText()).not.toMatch(NHS_NUMBER);
  await accessible(page, "the care market as a commissioner");
  await shot(page, "care-market-commissioner");
});
