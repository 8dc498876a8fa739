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

const member = { email: `member-${Date.now()}@example.org`, password: "another good password" };
await step("share a folder; a member sees a new file in it appear live", async () => {
  const signup = await fetch(`${base}/api/v1/auth/signup`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify(member),
  });
  if (!signup.ok) throw new Error(`sign-up of the member: ${signup.status}`);
  await page.locator(".row", { hasText: "Projects" }).click();
  await page.getByRole("button", { name: "Share", exact: true }).click();
  const dialog = page.getByRole("dialog");
  await dialog.getByRole("button", { name: "Share this folder" }).click();
  await dialog.getByLabel("Add people by email").fill(member.email);
  await dialog.getByRole("button", { name: "Add", exact: true }).click();
  await dialog.getByText(member.email).waitFor();
  await shot(page, "share-dialog");
  await dialog.getByRole("button", { name: "Done" }).click();

  const memberContext = await browser.newContext({ viewport: { width: 1000, height: 700 } });
  const memberPage = await newPage(memberContext);
  await memberPage.goto(`${base}/login`);
  await memberPage.getByLabel("Email").fill(member.email);
  await memberPage.getByLabel("Password").fill(member.password);
  await memberPage.getByRole("button", { name: "Log in" }).click();
  await memberPage.getByRole("link", { name: "Projects" }).click();
  await memberPage.getByText("This folder is empty").waitFor();

  await page.getByRole("link", { name: "Projects" }).click();
  await page.getByTestId("file-input").setInputFiles({ name: "plan.txt", mimeType: "text/plain", buffer: Buffer.from("the plan\n") });
  await memberPage.getByRole("link", { name: "plan.txt" }).waitFor();
  await memberContext.close();
  await page.getByRole("navigation", { name: "Folder" }).getByRole("link", { name: "Files" }).click();
  facts.member = member;
});

await step("a password link: an anonymous visitor opens it and downloads", async () => {
  await page.locator(".row", { hasText: "notes.txt" }).click();
  await page.getByRole("button", { name: "Link", exact: true }).click();
  const dialog = page.getByRole("dialog");
  await dialog.getByLabel(/^Password/).fill("link secret");
  await dialog.getByRole("button", { name: "Create link" }).click();
  const url = await dialog.getByLabel("The new link").inputValue();
  if (!url.includes("/s/")) throw new Error(`not a link page: ${url}`);
  await dialog.getByRole("button", { name: "Close" }).click();

  const visitorContext = await browser.newContext({ viewport: { width: 1000, height: 700 }, acceptDownloads: true });
  const visitor = await newPage(visitorContext);
  await visitor.goto(url);
  await visitor.getByRole("heading", { name: "This link is protected" }).waitFor();
  await visitor.getByLabel("Password").fill("wrong");
  await visitor.getByRole("button", { name: "Open" }).click();
  await visitor.getByText("That password is wrong.").waitFor();
  await visitor.getByLabel("Password").fill("link secret");
  await visitor.getByRole("button", { name: "Open" }).click();
  await visitor.getByRole("heading", { name: "notes.txt" }).waitFor();
  await shot(visitor, "public-link");
  const [download] = await Promise.all([visitor.waitForEvent("download"), visitor.getByRole("link", { name: "Download" }).click()]);
  const path = await download.path();
  const { readFileSync } = await import("node:fs");
  const text = readFileSync(path, "utf8");
  if (text !== "first notes\n") throw new Error(`the visitor downloaded ${JSON.stringify(text)}`);
  await visitorContext.close();
});

if (args.plugins) {
  await step("the administrator installs the EICAR scanner; an EICAR upload is refused in words", async () => {
    await page.getByRole("link", { name: "Plugins" }).click();
    const form = page.getByRole("form", { name: "Install a plugin" });
    await form.getByLabel("Manifest (plugin.json)").setInputFiles(join(args.repo, "plugins/eicar-scanner/plugin.json"));
    await form.getByLabel("Component (.wasm)").setInputFiles(join(args.plugins, "eicar_scanner.wasm"));
    await form.getByRole("button", { name: "Install" }).click();
    const card = page.getByRole("article", { name: "Plugin eicar-scanner" });
    await card.waitFor({ timeout: 120000 });
    await card.getByRole("button", { name: "Enable" }).click();
    await card.getByText("Enabled", { exact: true }).waitFor();
    await card.getByText("Configuration", { exact: true }).click();
    await card.getByText("Dry run", { exact: true }).click();
    await card.getByRole("button", { name: "Run" }).click();
    await card.getByText("Decision: clean").waitFor();
    await shot(page, "plugin-console");

    await page.getByRole("link", { name: "Files", exact: true }).click();
    const eicar = "X5O!P%@AP[4\\PZX54(P^)7CC)7}$EICAR-STANDARD-ANTIVIRUS-TEST-FILE!$H+H*";
    await page.getByTestId("file-input").setInputFiles({ name: "eicar.txt", mimeType: "text/plain", buffer: Buffer.from(eicar) });
    const failed = page.locator('li.upload.failed[data-path="/eicar.txt"]');
    await failed.waitFor({ timeout: 30000 });
    const said = await failed.locator(".upload-state").innerText();
    if (!/eicar-scanner.*refused/i.test(said) || said.includes("{")) throw new Error(`the refusal reads: ${said}`);
    facts.refusal = said;

    await page.getByRole("link", { name: "Plugins" }).click();
    await page.getByRole("link", { name: "Audit log" }).click();
    await page.getByRole("cell", { name: "eicar-scanner" }).first().waitFor();
    await shot(page, "audit-log");
    await page.getByRole("link", { name: "Files", exact: true }).click();
  });
}

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

await step("the API reference renders, loading nothing from another origin", async () => {
  const docs = await newPage(context);
  const elsewhere = [];
  docs.on("request", (request) => {
    if (!request.url().startsWith(base) && !request.url().startsWith("data:")) elsewhere.push(request.url());
  });
  await docs.goto(`${base}/api/docs`);
  await docs.getByText("Coffer API").first().waitFor();
  await docs.getByText("/files/content").first().waitFor();
  await docs.waitForTimeout(1500);
  if (elsewhere.length) throw new Error(`the reference page asked other origins: ${elsewhere.join(", ")}`);
  await docs.close();
});

await step("no errors in the browser (a Content-Security-Policy violation is one)", async () => {
  if (problems.length) throw new Error(problems.join("\n"));
});

await browser.close();
console.log(JSON.stringify(facts));
