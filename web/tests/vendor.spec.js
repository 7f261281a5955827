// The vendored modules the app serves are the npm releases package.json names, byte for byte
// (bar their source-map comment): upgrading is `npm install preact@x` here, then copying.

import { readFileSync } from "node:fs";
import { expect, test } from "@playwright/test";

const strip = (text) => text.replace(/\n?\/\/# sourceMappingURL=.*\n?$/, "").trimEnd();

for (const [served, released] of [
  ["preact.mjs", "preact/dist/preact.mjs"],
  ["hooks.mjs", "preact/hooks/dist/hooks.mjs"],
  ["htm.mjs", "htm/dist/htm.module.js"],
  ["LICENSE-preact", "preact/LICENSE"],
  ["LICENSE-htm", "htm/LICENSE"],
]) {
  test(`web/vendor/${served} is ${released} as released`, () => {
    const ours = readFileSync(new URL(`../vendor/${served}`, import.meta.url), "utf8");
    const theirs = readFileSync(new URL(`./node_modules/${released}`, import.meta.url), "utf8");
    expect(strip(ours)).toBe(strip(theirs));
  });
}
