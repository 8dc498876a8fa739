// End-to-end run of the web app in Chromium (playwright-core driving Debian's chromium),
// against a running server. The Rust test `tests/api/web.rs` starts a server on each stack,
// runs this, and checks through the API what the browser did.
//
//   node e2e/run.mjs --base http://127.0.0.1:PORT [--screenshots DIR]
//
// Env: COFFER_TEST_CHROMIUM (default /usr/bin/chromium). Prints one JSON line of facts for the
// Rust side on success; exits 1 with the failed step on failure.

import { chromium } from "playwright-core";
import { mkdirSync, writeFileSync } from "node:fs";
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

const args = Object.fromEntries(
  process.argv.slice(2).reduce((pairs, arg, i, all) => (arg.startsWith("--") ? [...pairs, [arg.slice(2), all[i + 1]]] : pairs), []),
);
const base = args.base;
if (!base) throw new Error("--base is required");
const shots = args.screenshots;
const executablePath = process.env.COFFER_TEST_CHROMIUM || "/usr/bin/chromium";
const password = "correct horse battery";
const email = `e2e-${Date.now()}@example.org`;
const facts = { email, password };
const problems = [];

const browser = await chromium.launch({ executablePath, headless: true, args: ["--no-sandbox", "--disable-dev-shm-usage"] });

/** A step: its name is what a failure reports. */
async function step(name, work) {
  try {
    return await work();
  } catch (error) {
    console.error(`e2e step failed: ${name}\n${error?.stack ?? error}`);
    await browser.close();
    process.exit(1);
  }
}

async function newPage(context) {
  const page = await context.newPage();
  page.setDefaultTimeout(20000);
  page.on("console", (message) => {
    if (message.type() === "error" && !/Failed to load resource/.test(message.text())) problems.push(message.text());
  });
  page.on("pageerror", (error) => problems.push(String(error)));
  return page;
}

async function shot(page, name) {
  if (!shots) return;
  mkdirSync(shots, { recursive: true });
  await page.screenshot({ path: join(shots, `${name}.png`), fullPage: false });
}

const work = mkdtempSync(join(tmpdir(), "coffer-e2e-"));
const files = {
  "notes.txt": "first notes\n",
  "photos/a.txt": "photo a\n",
  "photos/deeper/b.txt": "photo b\n",
};
for (const [path, text] of Object.entries(files)) {
  mkdirSync(join(work, "upload", path, ".."), { recursive: true });
  writeFileSync(join(work, "upload", path), text);
}

const context = await browser.newContext({ viewport: { width: 1200, height: 800 } });
const page = await newPage(context);

await step("sign up through the app", async () => {
  await page.goto(`${base}/`);
  await page.getByRole("link", { name: "Sign up" }).click();
  await page.getByLabel("Email").fill(email);
  await page.getByLabel(/^Password/).fill(password);
  await page.getByRole("button", { name: "Sign up" }).click();
  await page.getByRole("grid", { name: "Folder contents" }).waitFor();
  await page.getByText("This folder is empty").waitFor();
});

await step("the session survives a reload, and no script can read its cookie", async () => {
  await page.reload();
  await page.getByRole("grid", { name: "Folder contents" }).waitFor();
  const cookies = await page.evaluate(() => document.cookie);
  if (cookies.includes("coffer_session")) throw new Error(`the session cookie is readable by script: ${cookies}`);
});

await step("create a folder", async () => {
  await page.getByRole("button", { name: "New folder" }).click();
  await page.getByRole("dialog").getByLabel("Name").fill("Projects");
  await page.getByRole("dialog").getByRole("button", { name: "Create" }).click();
  await page.getByRole("link", { name: "Projects" }).waitFor();
});

await step("a taken name is explained in words", async () => {
  await page.getByRole("button", { name: "New folder" }).click();
  await page.getByRole("dialog").getByLabel("Name").fill("Projects");
  await page.getByRole("dialog").getByRole("button", { name: "Create" }).click();
  await page.getByText("Something with that name is already there").waitFor();
  await page.getByRole("button", { name: "Cancel" }).click();
});

await step("upload a file with the file picker", async () => {
  await page.getByTestId("file-input").setInputFiles(join(work, "upload", "notes.txt"));
  await page.getByRole("link", { name: "notes.txt" }).waitFor();
});

await step("drop files onto the folder", async () => {
  await page.evaluate(() => {
    const transfer = new DataTransfer();
    transfer.items.add(new File(["dropped one\n"], "dropped-1.txt", { type: "text/plain" }));
    transfer.items.add(new File(["dropped two\n"], "dropped-2.txt", { type: "text/plain" }));
    const target = document.querySelector(".files");
    for (const type of ["dragover", "drop"]) {
      target.dispatchEvent(new DragEvent(type, { dataTransfer: transfer, bubbles: true, cancelable: true }));
    }
  });
  await page.getByRole("link", { name: "dropped-1.txt" }).waitFor();
  await page.getByRole("link", { name: "dropped-2.txt" }).waitFor();
});

await step("upload a whole folder", async () => {
  const [chooser] = await Promise.all([page.waitForEvent("filechooser"), page.getByRole("button", { name: "Upload folder" }).click()]);
  await chooser.setFiles(join(work, "upload", "photos"));
  await page.getByRole("link", { name: "photos" }).waitFor();
});

await step("open a folder, preview a file, come back by the breadcrumb", async () => {
  await page.getByRole("link", { name: "photos" }).click();
  await page.getByRole("link", { name: "a.txt" }).click();
  await page.getByRole("dialog", { name: "a.txt" }).getByText("photo a").waitFor();
  await page.keyboard.press("Escape");
  await page.getByRole("navigation", { name: "Folder" }).getByRole("link", { name: "Files" }).click();
  await page.getByRole("link", { name: "notes.txt" }).waitFor();
  await shot(page, "files");
});

await step("a change made elsewhere shows up without a reload", async () => {
  const other = await newPage(context);
  await other.goto(`${base}/files`);
  await other.getByRole("link", { name: "notes.txt" }).waitFor();
  // Another client (the REST API, with a token of its own) adds a file.
  const login = await fetch(`${base}/api/v1/auth/login`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ email, password }),
  }).then((r) => r.json());
  const put = await fetch(`${base}/api/v1/files/content?path=/from-the-api.txt`, {
    method: "PUT",
    headers: { authorization: `Bearer ${login.access_token}` },
    body: "made elsewhere\n",
  });
  if (!put.ok) throw new Error(`API upload: ${put.status}`);
  await other.getByRole("link", { name: "from-the-api.txt" }).waitFor();
  await other.close();
});

await step("reload in the middle of a large upload, then resume it", async () => {
  const size = 48 * 1024 * 1024;
  const big = join(work, "big.bin");
  const bytes = Buffer.alloc(size);
  for (let i = 0; i < size; i += 4096) bytes.writeUInt32LE((i * 2654435761) >>> 0, i);
  writeFileSync(big, bytes);
  facts.bigSize = size;
  const cdp = await context.newCDPSession(page);
  await cdp.send("Network.enable");
  await cdp.send("Network.emulateNetworkConditions", {
    offline: false,
    latency: 0,
    downloadThroughput: -1,
    uploadThroughput: 6 * 1024 * 1024,
  });
  await page.getByTestId("file-input").setInputFiles(big);
  // Wait until the server has the first 16 MiB part, then reload.
  await page.waitForFunction(() => {
    const bar = document.querySelector('[aria-label="Upload of /big.bin"]');
    return bar && Number(bar.getAttribute("value")) >= 20 * 1024 * 1024;
  }, null, { timeout: 60000 });
  await page.reload();
  await cdp.send("Network.emulateNetworkConditions", { offline: false, latency: 0, downloadThroughput: -1, uploadThroughput: -1 });
  await page.getByText(/can continue where/).waitFor();
  const offsets = [];
  page.on("request", (request) => {
    if (request.method() === "PATCH" && request.url().includes("/api/v1/uploads/")) {
      offsets.push(Number(request.headers()["upload-offset"]));
    }
  });
  await page.getByTestId("file-input").setInputFiles(big);
  await page.locator('li.upload.done[data-path="/big.bin"]').waitFor({ timeout: 60000 });
  if (!offsets.length || offsets[0] < 16 * 1024 * 1024) {
    throw new Error(`the upload started again from ${offsets[0]} instead of resuming`);
  }
  facts.resumedFrom = offsets[0];
});

await step("delete a file and restore it from the trash", async () => {
  await page.getByRole("link", { name: "dropped-2.txt" }).waitFor();
  await page.locator(".row", { hasText: "dropped-2.txt" }).click();
  await page.getByRole("button", { name: "Delete", exact: true }).click();
  await page.getByRole("dialog").getByRole("button", { name: "Delete" }).click();
  await page.getByRole("link", { name: "dropped-2.txt" }).waitFor({ state: "detached" });
  await page.getByRole("link", { name: "Trash" }).click();
  await page.getByText("/dropped-2.txt").waitFor();
  await page.getByRole("button", { name: "Restore" }).click();
  await page.getByText("The trash is empty.").waitFor();
  await page.getByRole("link", { name: "Files", exact: true }).click();
  await page.getByRole("link", { name: "dropped-2.txt" }).waitFor();
});

await step("log out", async () => {
  await page.getByRole("button", { name: "Log out" }).click();
  await page.getByRole("heading", { name: "Log in to Coffer" }).waitFor();
  await page.goto(`${base}/files`);
  await page.getByRole("heading", { name: "Log in to Coffer" }).waitFor();
});

await step("no errors in the browser (a Content-Security-Policy violation is one)", async () => {
  if (problems.length) throw new Error(problems.join("\n"));
});

await browser.close();
console.log(JSON.stringify(facts));
