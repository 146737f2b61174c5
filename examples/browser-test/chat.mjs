// The chat example in a real browser: headless Chromium (Debian's /usr/bin/chromium) with two
// pages, driven by playwright-core. A message typed in one page appears in the other and
// vice versa, a burst arrives whole and in order, and `<b>&` shows literally (no markup).
//
// It starts nothing itself: `node chat.mjs http://127.0.0.1:PORT/` against a running
// `chat` server (run.sh beside it builds and starts one). Exits 0 on success, 1 with a
// message on failure, 2 if the whole run takes longer than OVERALL_TIMEOUT_MS.
//
// CHROMIUM=/path/to/chromium overrides the browser.
import { chromium } from "playwright-core";

const OVERALL_TIMEOUT_MS = 60_000;
/// How long one expectation may wait (a message travels in milliseconds; the long poll
/// itself is 10 s, but a waiting pull answers as soon as a message is pushed).
const STEP_TIMEOUT_MS = 15_000;

const url = process.argv[2];
if (!url || !/^https?:\/\//.test(url)) {
  console.error("usage: node chat.mjs http://127.0.0.1:PORT/");
  process.exit(1);
}

const started = Date.now();
const log = (msg) => console.log(`[${((Date.now() - started) / 1000).toFixed(2)}s] ${msg}`);

const overall = setTimeout(() => {
  console.error(`FAIL: the browser test did not finish within ${OVERALL_TIMEOUT_MS / 1000} s`);
  process.exit(2);
}, OVERALL_TIMEOUT_MS);

/** Sends `text` from `page` through the input and the send button. */
async function send(page, text) {
  await page.fill("#text", text);
  await page.click("#send");
}

/** Waits until `page`'s message list ends with `texts` (compared as text, in order). */
async function expectLast(page, name, texts) {
  try {
    await page.waitForFunction(
      (want) => {
        const got = [...document.querySelectorAll("#messages li:not(.note)")].map(
          (li) => li.textContent,
        );
        return got.length >= want.length && want.every((t, i) => got[got.length - want.length + i] === t);
      },
      texts,
      { timeout: STEP_TIMEOUT_MS, polling: 50 },
    );
  } catch (e) {
    const got = await page.$$eval("#messages li", (lis) => lis.map((li) => li.textContent));
    throw new Error(
      `page ${name} did not show ${JSON.stringify(texts)}; it shows ${JSON.stringify(got)}`,
    );
  }
}

async function openPage(browser, name) {
  // One context per page: two separate users, no shared cookies or connection pool.
  const context = await browser.newContext();
  const page = await context.newPage();
  page.on("pageerror", (e) => console.error(`page ${name}: uncaught ${e}`));
  page.on("console", (m) => {
    if (m.type() === "error") console.error(`page ${name} console: ${m.text()}`);
  });
  await page.goto(url, { timeout: STEP_TIMEOUT_MS });
  await page.waitForSelector('body[data-state="connected"]', { timeout: STEP_TIMEOUT_MS });
  log(`page ${name} connected`);
  return page;
}

async function run() {
  const browser = await chromium.launch({
    executablePath: process.env.CHROMIUM || "/usr/bin/chromium",
    args: ["--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage"],
    timeout: STEP_TIMEOUT_MS,
  });
  try {
    log(`chromium ${browser.version()} started`);
    const a = await openPage(browser, "A");
    const b = await openPage(browser, "B");
    // Let both pages' pulls park on the server, so the messages below travel through the
    // waiting long polls (a pull that came later would get them from the log instead).
    await new Promise((r) => setTimeout(r, 300));

    const tag = Date.now().toString(36);
    const fromA = `hello from A ${tag}`;
    await send(a, fromA);
    await expectLast(b, "B", [fromA]);
    await expectLast(a, "A", [fromA]);
    log("A -> B ok");

    const fromB = `hello from B ${tag}`;
    await send(b, fromB);
    await expectLast(a, "A", [fromB]);
    await expectLast(b, "B", [fromB]);
    log("B -> A ok");

    // Markup must show as typed: textContent, never innerHTML.
    const markup = `<b>&amp; bold?</b> & <script>x</script> ${tag}`;
    await send(b, markup);
    await expectLast(a, "A", [markup]);
    const bold = await a.$$eval("#messages b, #messages script", (els) => els.length);
    if (bold !== 0) throw new Error(`page A turned a message into ${bold} HTML element(s)`);
    const html = await a.$eval("#messages li:last-child", (li) => li.innerHTML);
    if (!html.includes("&lt;b&gt;&amp;amp;")) throw new Error(`page A shows ${html} as HTML`);
    log("<b>& shown literally ok");

    // A burst: every message arrives, in order, though the pulls come and go between them.
    const burst = Array.from({ length: 10 }, (_, i) => `burst ${i} ${tag}`);
    for (const m of burst) await send(a, m);
    await expectLast(b, "B", burst);
    await expectLast(a, "A", burst);
    log("burst of 10 in order ok");
  } finally {
    await browser.close();
  }
}

try {
  await run();
  clearTimeout(overall);
  log("PASS");
  process.exit(0);
} catch (e) {
  console.error(`FAIL: ${e && e.message ? e.message : e}`);
  process.exit(1);
}
