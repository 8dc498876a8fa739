// Time to first listing of a large folder in the web app, and scrolling through it (frame
// times), in headless Chromium. Used by scripts/bench-web.
//
//   node e2e/bench-listing.mjs --base URL --email E --password P --folder /many

import { chromium } from "playwright-core";

const args = Object.fromEntries(
  process.argv.slice(2).reduce((pairs, arg, i, all) => (arg.startsWith("--") ? [...pairs, [arg.slice(2), all[i + 1]]] : pairs), []),
);
const browser = await chromium.launch({
  executablePath: process.env.COFFER_TEST_CHROMIUM || "/usr/bin/chromium",
  headless: true,
  args: ["--no-sandbox", "--disable-dev-shm-usage"],
});
const page = await browser.newPage({ viewport: { width: 1280, height: 900 } });
page.setDefaultTimeout(60000);
await page.goto(`${args.base}/login`);
await page.getByLabel("Email").fill(args.email);
await page.getByLabel("Password").fill(args.password);
await page.getByRole("button", { name: "Log in" }).click();
await page.getByRole("grid", { name: "Folder contents" }).waitFor();

const results = [];
for (let run = 0; run < 3; run++) {
  await page.goto(`${args.base}/files`);
  await page.getByRole("grid", { name: "Folder contents" }).waitFor();
  const started = Date.now();
  await page.evaluate((folder) => {
    history.pushState(null, "", `/files${folder}`);
    window.dispatchEvent(new PopStateEvent("popstate"));
  }, args.folder);
  await page.locator(".rows .row").first().waitFor();
  results.push(Date.now() - started);
}

// Scroll for 6 s, a screenful every 100 ms, recording every frame.
const frames = await page.evaluate(async () => {
  const deltas = [];
  let last = performance.now();
  let running = true;
  const tick = (now) => {
    deltas.push(now - last);
    last = now;
    if (running) requestAnimationFrame(tick);
  };
  requestAnimationFrame(tick);
  const end = performance.now() + 6000;
  while (performance.now() < end) {
    window.scrollBy(0, window.innerHeight);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  running = false;
  return { deltas, rows: document.querySelectorAll(".rows .row").length, height: document.body.scrollHeight };
});
const sorted = [...frames.deltas].sort((a, b) => a - b);
const pct = (p) => sorted[Math.min(sorted.length - 1, Math.floor(p * sorted.length))];
const loadedRows = await page.evaluate(() => Number(document.querySelector('[role="grid"]').getAttribute("aria-rowcount")));
console.log(
  JSON.stringify({
    firstListingMs: results,
    frames: sorted.length,
    p50: pct(0.5),
    p95: pct(0.95),
    max: sorted[sorted.length - 1],
    over33: sorted.filter((d) => d > 33.4).length,
    renderedRows: frames.rows,
    loadedRows,
  }),
);
await browser.close();
