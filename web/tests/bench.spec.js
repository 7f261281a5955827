// Figures for BENCHMARKS.md, not a test: how long the bed board takes to show, and how long a
// change takes from the tablet's tap to its tile (mutation, read model, push, render). Skipped
// unless CAREFLOW_BENCH is set; run against a release build with its demo:
//   cargo run --release -- serve --demo --data-dir "$(mktemp -d)" &
//   cd web/tests && CAREFLOW_BENCH=1 CAREFLOW_URL=http://127.0.0.1:8080 npx playwright test bench.spec.js

import { expect, test } from "@playwright/test";

test.skip(!process.env.CAREFLOW_BENCH, "set CAREFLOW_BENCH to measure");

const percentile = (sorted, p) => sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))];

test("bed board: first paint and tap-to-tile latency", async ({ page }) => {
  test.setTimeout(300_000);
  await page.goto("/");
  await page.getByRole("button", { name: /Grace Okafor/ }).click();
  await expect(page.locator(".tile").first()).toBeVisible();

  const loads = [];
  for (let i = 0; i < 20; i += 1) {
    const started = Date.now();
    await page.reload();
    await page.locator(".tile").nth(39).waitFor();
    loads.push(Date.now() - started);
  }

  const changes = await page.evaluate(async () => {
    const token = JSON.parse(localStorage.getItem("careflow.session")).token;
    const send = (query) => fetch("/graphql", {
      method: "POST",
      headers: { "content-type": "application/json", authorization: `Bearer ${token}` },
      body: JSON.stringify({ query }),
    });
    const shown = (bedId, status) => new Promise((resolve) => {
      const tile = () => document.querySelector(`.tile[data-bed="${bedId}"]`);
      if (tile()?.dataset.status === status) return resolve();
      const observer = new MutationObserver(() => {
        if (tile()?.dataset.status === status) {
          observer.disconnect();
          resolve();
        }
      });
      observer.observe(document.body, { subtree: true, attributes: true, childList: true });
    });
    const bed = document.querySelector(".tile[data-status=AVAILABLE]").dataset.bed;
    const samples = [];
    for (let i = 0; i < 100; i += 1) {
      const [mutation, status] = i % 2 === 0
        ? [`mutation { blockBed(input: { bedId: "${bed}", reason: STAFFING }) { visible } }`, "BLOCKED"]
        : [`mutation { unblockBed(input: { bedId: "${bed}" }) { visible } }`, "AVAILABLE"];
      const started = performance.now();
      const visible = shown(bed, status);
      await send(mutation);
      await visible;
      samples.push(performance.now() - started);
    }
    return samples;
  });

  loads.sort((a, b) => a - b);
  changes.sort((a, b) => a - b);
  const line = (name, sorted) =>
    `${name}: n=${sorted.length} p50=${percentile(sorted, 50).toFixed(1)} ms p90=${percentile(sorted, 90).toFixed(1)} ms p99=${percentile(sorted, 99).toFixed(1)} ms max=${sorted[sorted.length - 1].toFixed(1)} ms`;
  console.log(line("reload → 40 tiles shown", loads));
  console.log(line("tap → tile shows the change", changes));
});
