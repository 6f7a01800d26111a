// The suite's harness: where the server is, one Chromium per test file, a fresh browser
// context per test, and what a failed test leaves behind (a screenshot and the HTML of every
// page it had open, plus the page's script errors) so a red run can be read without
// re-running it.
//
// Environment:
//   BACKLINE_URL          the running server (required; .ci/e2e.sh starts one)
//   BACKLINE_MAIL_DIR     the server's dev mail sink (<working dir>/data/mail), optional
//   BACKLINE_SCREENSHOTS  where screenshots.test.mjs writes (docs/screenshots); default: a temp dir
//   BACKLINE_E2E_ARTIFACTS where failed tests leave their pages; default: a temp dir
//   BACKLINE_CHROMIUM     the browser binary; default /usr/bin/chromium

import { after, test } from "node:test";
import { mkdirSync, mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { randomBytes } from "node:crypto";
import { chromium } from "playwright-core";

export const BASE = (process.env.BACKLINE_URL || "").replace(/\/+$/, "");
if (!BASE) {
  throw new Error("BACKLINE_URL is not set: run the suite with .ci/e2e.sh, or point BACKLINE_URL at a running Backline");
}
export const MAIL_DIR = process.env.BACKLINE_MAIL_DIR || "";
const CHROMIUM = process.env.BACKLINE_CHROMIUM || "/usr/bin/chromium";

let artifactDir = null;
function artifacts() {
  if (!artifactDir) {
    artifactDir = process.env.BACKLINE_E2E_ARTIFACTS
      ? path.resolve(process.env.BACKLINE_E2E_ARTIFACTS)
      : mkdtempSync(path.join(tmpdir(), "backline-e2e-"));
    mkdirSync(artifactDir, { recursive: true });
  }
  return artifactDir;
}

/** Where screenshots go: BACKLINE_SCREENSHOTS (relative to the working directory) or a temp dir. */
export function screenshotDir() {
  const dir = process.env.BACKLINE_SCREENSHOTS
    ? path.resolve(process.env.BACKLINE_SCREENSHOTS)
    : path.join(artifacts(), "screenshots");
  mkdirSync(dir, { recursive: true });
  return dir;
}

/** A value no other test (or earlier run against the same server) uses. */
export function unique(tag = "x") {
  return `${tag}-${Date.now().toString(36)}-${randomBytes(3).toString("hex")}`;
}

// One browser per test file: node --test runs every file in its own process.
let browserPromise = null;
function sharedBrowser() {
  browserPromise ??= chromium.launch({ executablePath: CHROMIUM, args: ["--no-sandbox"] });
  return browserPromise;
}
after(async () => {
  if (browserPromise) await (await browserPromise).close().catch(() => {});
});

/** What a test's pages should look like unless it says otherwise: an English desktop. */
export const DESKTOP = { viewport: { width: 1280, height: 900 }, locale: "en-US" };
export const PHONE = {
  viewport: { width: 390, height: 844 },
  deviceScaleFactor: 1,
  isMobile: true,
  hasTouch: true,
  locale: "en-US",
};

const slug = (s) => s.replace(/[^A-Za-z0-9]+/g, "-").replace(/^-|-$/g, "").slice(0, 60);

/**
 * A browser test. `fn` gets `{ t, browser, newContext, newPage }`; contexts it opens are
 * closed afterwards. A page that throws an uncaught script error fails the test. On failure
 * every open page is saved (PNG + HTML) under the artifacts directory, and the path printed.
 */
export function e2e(name, fn, { timeout = 30_000 } = {}) {
  test(name, { timeout }, async (t) => {
    const browser = await sharedBrowser();
    const contexts = [];
    const scriptErrors = [];
    const consoleErrors = [];
    const watch = (page) => {
      page.on("pageerror", (e) => scriptErrors.push(`${page.url()}: ${e.stack || e.message}`));
      page.on("console", (m) => {
        if (m.type() === "error") consoleErrors.push(`${page.url()}: ${m.text()}`);
      });
    };
    const newContext = async (options = {}) => {
      const context = await browser.newContext({ ...DESKTOP, baseURL: BASE, ...options });
      context.setDefaultTimeout(10_000);
      context.setDefaultNavigationTimeout(15_000);
      context.on("page", watch);
      contexts.push(context);
      return context;
    };
    const newPage = async (options) => (await newContext(options)).newPage();
    try {
      await fn({ t, browser, newContext, newPage });
      if (scriptErrors.length) throw new Error(`uncaught script errors in the page:\n${scriptErrors.join("\n")}`);
    } catch (e) {
      const dir = path.join(artifacts(), slug(name));
      mkdirSync(dir, { recursive: true });
      let n = 0;
      for (const context of contexts) {
        for (const page of context.pages()) {
          n += 1;
          try {
            await page.screenshot({ path: path.join(dir, `page-${n}.png`), fullPage: true, timeout: 5_000 });
            writeFileSync(path.join(dir, `page-${n}.html`), `<!-- ${page.url()} -->\n${await page.content()}`);
          } catch {
            /* a page that is gone leaves nothing */
          }
        }
      }
      if (consoleErrors.length) writeFileSync(path.join(dir, "console-errors.txt"), consoleErrors.join("\n"));
      t.diagnostic(`the failed test's pages (PNG, HTML) and console errors: ${dir}`);
      throw e;
    } finally {
      for (const context of contexts) await context.close().catch(() => {});
    }
  });
}
