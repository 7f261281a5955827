// Run by tests/e2e/browser.rs, which starts careflow on a temp data dir and passes its address
// in CAREFLOW_URL (and where to write results in CAREFLOW_BROWSER_OUT). Debian's chromium.
import { defineConfig } from "@playwright/test";

export default defineConfig({
  testDir: ".",
  testMatch: "*.spec.js",
  // One careflow for all of them: the tests use different beds and teams, one at a time.
  workers: 1,
  fullyParallel: false,
  retries: 0,
  timeout: 60_000,
  expect: { timeout: 15_000 },
  reporter: [["list"]],
  outputDir: process.env.CAREFLOW_BROWSER_OUT || "test-results",
  use: {
    baseURL: process.env.CAREFLOW_URL,
    // A 10-inch tablet in landscape; tests turn it to portrait where that matters.
    viewport: { width: 1180, height: 820 },
    hasTouch: true,
    launchOptions: {
      executablePath: process.env.CHROMIUM || "/usr/bin/chromium",
      args: ["--no-sandbox", "--disable-dev-shm-usage"],
    },
    trace: "retain-on-failure",
    screenshot: "only-on-failure",
  },
});
