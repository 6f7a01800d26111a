// What a person does on the pages, step by step, written against the labels and texts they
// see (crates/web/locales/en.ftl), so a test reads like the visit it stands for.

import assert from "node:assert/strict";
import { existsSync, readdirSync, readFileSync } from "node:fs";
import path from "node:path";
import { MAIL_DIR } from "./harness.mjs";

export const CARD_OK = "4242 4242 4242 4242";
export const CARD_DECLINED = "4000 0000 0000 0002";

/** Fails with the page's own message when a form answered with an error page or alert. */
export async function noProblem(page, what) {
  const errorPage = page.locator("section.error-page");
  if (await errorPage.count()) {
    throw new Error(`${what}: the server answered an error page: "${(await errorPage.innerText()).replace(/\s+/g, " ")}" (${page.url()})`);
  }
  const alert = page.locator('[role="alert"].bad:visible, .notice.bad:visible');
  if (await alert.count()) {
    const text = (await alert.allInnerTexts()).join(" | ");
    throw new Error(`${what}: the page says "${text}" (${page.url()})`);
  }
}

/** Clicks a form's submit button and waits for the page that answers, whatever its address. */
export async function submit(page, button) {
  await Promise.all([page.waitForEvent("load"), button.click()]);
}

/** Registers in the browser; the context is signed in afterwards. */
export async function registerInBrowser(page, { name, email, password }) {
  await page.goto("/register");
  const form = page.locator('form[action="/register"]');
  await form.getByLabel("Name").fill(name);
  await form.getByLabel("Email").fill(email);
  await form.getByLabel("Password").fill(password);
  await submit(page, form.getByRole("button", { name: "Create account" }));
  await noProblem(page, "registering");
  await page.getByRole("button", { name: "Sign out" }).waitFor();
}

/** Signs in through the sign-in page and lands on `next`. */
export async function signIn(page, { email, password }, next = "/") {
  await page.goto(`/sign-in?next=${encodeURIComponent(next)}`);
  // By the fields' names, so it works whatever the page's language.
  const form = page.locator('form[action="/sign-in"]');
  await form.locator('input[name="email"]').fill(email);
  await form.locator('input[name="password"]').fill(password);
  await submit(page, form.locator('button[type="submit"]'));
  await noProblem(page, "signing in");
  assert.equal(new URL(page.url()).pathname, next.split("?")[0], "signed in and on the page asked for");
}

/**
 * On an event page: picks `quantities` (ticket type name → count), fills the buyer's details
 * where the page left them empty and continues. Returns the booking `{ id, token, url }`.
 */
export async function startCheckout(page, quantities, buyer = {}) {
  const form = page.locator("form.checkout-start");
  for (const [type, n] of Object.entries(quantities)) {
    await form.getByLabel(`Number of ${type} tickets`, { exact: true }).fill(String(n));
  }
  const buyerBox = form.locator("fieldset.buyer");
  for (const [label, value] of [["Name", buyer.name || "E2E Fan"], ["Email", buyer.email || "fan@example.com"]]) {
    const field = buyerBox.getByLabel(label);
    if (!(await field.inputValue())) await field.fill(value);
  }
  await submit(page, form.getByRole("button", { name: "Continue" }));
  await noProblem(page, "starting the checkout");
  return bookingOf(page);
}

/** The booking the page shows: its id and token (from the URL). */
export function bookingOf(page) {
  const url = new URL(page.url());
  const m = url.pathname.match(/^\/bookings\/([0-9a-f-]{36})$/);
  assert.ok(m, `not a booking page: ${page.url()}`);
  return { id: m[1], token: url.searchParams.get("token"), url: `${url.pathname}${url.search}` };
}

/** Pays on the booking page with the test provider's card form. */
export async function payWithCard(page, card) {
  const form = page.locator("form.pay-test");
  await form.getByLabel("Card number").fill(card);
  await submit(page, form.getByRole("button", { name: /^Pay / }));
  assert.match(page.url(), /[?&](problem|paid)=/, "the payment answered with the booking page");
}

/** Waits until the booking page (refreshing itself while confirming) shows a confirmed order. */
export async function waitForConfirmed(page, timeout = 20_000) {
  await page.locator('section.booking[data-status="confirmed"]').waitFor({ timeout });
  await page.getByText(/^You're in! Your tickets are below/).waitFor();
}

/** Opens an event from the listing by searching for `query` and following its link. */
export async function findEvent(page, query, name) {
  await page.goto("/");
  const search = page.getByRole("search");
  await search.getByLabel("Search", { exact: true }).fill(query);
  await Promise.all([page.waitForURL(/[?&]q=/), search.getByRole("button", { name: "Search" }).click()]);
  const link = page.locator("ul.events").getByRole("link", { name, exact: true });
  await link.waitFor();
  await Promise.all([page.waitForURL(/\/events\//), link.click()]);
  await page.getByRole("heading", { level: 1, name }).waitFor();
}

/** The mails the server's dev sink holds for `to`: `[{ file, subject, text }]`. */
export function mailsTo(to) {
  if (!MAIL_DIR || !existsSync(MAIL_DIR)) return [];
  return readdirSync(MAIL_DIR)
    .filter((f) => f.endsWith(".eml"))
    .map((f) => ({ file: path.join(MAIL_DIR, f), raw: readFileSync(path.join(MAIL_DIR, f), "utf8") }))
    .filter((m) => new RegExp(`^To:.*${to.replace(/[.+]/g, "\\$&")}`, "mi").test(m.raw))
    .map((m) => ({ file: m.file, subject: (m.raw.match(/^Subject: (.*)$/m) || [])[1] || "", text: m.raw.split(/\r?\n\r?\n/).slice(1).join("\n\n") }));
}

/** Waits (the mail is sent by a background job) for a mail to `to` whose subject matches. */
export async function waitForMail(to, subject, timeout = 10_000) {
  const until = Date.now() + timeout;
  for (;;) {
    const found = mailsTo(to).find((m) => subject.test(m.subject));
    if (found) return found;
    if (Date.now() > until) throw new Error(`no mail to ${to} with a subject like ${subject} in ${MAIL_DIR}`);
    await new Promise((r) => setTimeout(r, 200));
  }
}
