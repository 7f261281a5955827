// What the browser tests share.

import { expect } from "@playwright/test";
import AxeBuilder from "@axe-core/playwright";

/**
 * No WCAG 2.1 A/AA violation that axe-core can find on the page as it is now, and every control
 * a finger uses at least 44 × 44 px (links inside running text aside).
 */
export async function accessible(page, what) {
  const results = await new AxeBuilder({ page }).withTags(["wcag2a", "wcag2aa", "wcag21a", "wcag21aa"]).analyze();
  const found = results.violations.map((v) => `${v.id} (${v.impact}): ${v.help} — ${v.nodes.map((n) => n.target.join(" ")).join(", ")}`);
  expect(found, `axe-core on ${what}`).toEqual([]);
  const small = await page.$$eval("button, select, input, textarea, nav a, a.tab, .found a, .wards a", (controls) =>
    controls
      .map((c) => [c, c.getBoundingClientRect()])
      .filter(([c, r]) => r.width > 0 && r.height > 0 && getComputedStyle(c).visibility !== "hidden")
      .filter(([, r]) => r.width < 44 || r.height < 44)
      .map(([c, r]) => `${c.tagName.toLowerCase()} "${(c.textContent || c.getAttribute("aria-label") || c.name || "").trim().slice(0, 30)}" ${Math.round(r.width)}×${Math.round(r.height)}`));
  expect(small, `touch targets under 44 px on ${what}`).toEqual([]);
}


/** Signs in through the development sign-in as the demo person `name`. */
export async function signIn(page, name) {
  await page.goto("/");
  await page.getByRole("button", { name: new RegExp(name) }).click();
  await expect(page.getByTestId("who")).toHaveText(name);
}

/** Writes the page's screenshot as `<name>.png` when CAREFLOW_SCREENSHOTS names a directory. */
export async function shot(page, name) {
  const dir = process.env.CAREFLOW_SCREENSHOTS;
  if (dir) await page.screenshot({ path: `${dir}/${name}.png` });
}
