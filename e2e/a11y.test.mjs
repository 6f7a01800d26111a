// Accessibility: axe-core on the pages fans, organizers and door staff use, on the demo data.
// A page fails on any violation of impact "serious" or "critical"; the failure lists the
// rule, the elements and what is wrong with them.

import assert from "node:assert/strict";
import { e2e, PHONE } from "./lib/harness.mjs";
import { DEMO_OWNER, DEMO_STAFF, demoEvent, demoOwner } from "./lib/api.mjs";
import { axeViolations } from "./lib/a11y.mjs";
import { CARD_OK, payWithCard, signIn, startCheckout, waitForConfirmed } from "./lib/web.mjs";

async function expectAccessible(page, label) {
  const { blocking, minor, report } = await axeViolations(page, label);
  if (minor.length) process.stdout.write(`# ${label}: minor/moderate axe findings: ${minor.join(", ")}\n`);
  assert.equal(blocking.length, 0, report);
}

e2e("a11y: home", async ({ newPage }) => {
  const page = await newPage();
  await page.goto("/");
  await page.locator("ul.events li").first().waitFor();
  await expectAccessible(page, "home");
});

e2e("a11y: event page", async ({ newPage }) => {
  const page = await newPage();
  await page.goto(`/events/${(await demoEvent("Midnight Brass")).id}`);
  await page.locator("form.checkout-start").waitFor();
  await expectAccessible(page, "event page");
});

e2e("a11y: booking page (held, with the countdown and the card form)", async ({ newPage }) => {
  const page = await newPage();
  await page.goto(`/events/${(await demoEvent("Brooklyn Indie Night")).id}`);
  await startCheckout(page, { Floor: 2 }, { name: "Axe Fan", email: "axe-fan@example.com" });
  await page.locator(".countdown").waitFor();
  await page.locator("form.pay-test").waitFor();
  await expectAccessible(page, "booking page (held)");
});

e2e("a11y: booking page (confirmed, with QR codes)", async ({ newPage }) => {
  const page = await newPage();
  await page.goto(`/events/${(await demoEvent("Brooklyn Indie Night")).id}`);
  await startCheckout(page, { Floor: 1 }, { name: "Axe Fan", email: "axe-fan@example.com" });
  await payWithCard(page, CARD_OK);
  await waitForConfirmed(page);
  await expectAccessible(page, "booking page (confirmed)");
});

e2e("a11y: sign-in", async ({ newPage }) => {
  const page = await newPage();
  await page.goto("/sign-in");
  await page.locator('form[action="/sign-in"]').waitFor();
  await expectAccessible(page, "sign-in");
});

e2e("a11y: organizer dashboard", async ({ newPage }) => {
  const { org } = await demoOwner();
  const page = await newPage();
  await signIn(page, DEMO_OWNER, `/manage/orgs/${org.id}`);
  await page.locator("#today-sales").waitFor();
  await expectAccessible(page, "dashboard");
});

e2e("a11y: scanner (door staff)", async ({ newPage }) => {
  const event = await demoEvent("Midnight Brass");
  const page = await newPage();
  await signIn(page, DEMO_STAFF, `/scan/${event.id}`);
  await page.locator('body[data-scanner-ready="1"]').waitFor();
  await expectAccessible(page, "scanner");
});

e2e("a11y: register", async ({ newPage }) => {
  const page = await newPage();
  await page.goto("/register");
  await page.locator('form[action="/register"]').waitFor();
  await expectAccessible(page, "register");
});

e2e("a11y: event editor and orders (organizer)", async ({ newPage }) => {
  const event = await demoEvent("Midnight Brass");
  const page = await newPage();
  await signIn(page, DEMO_OWNER, `/manage/events/${event.id}`);
  await page.locator('form[action$="/quotas"]').waitFor();
  await expectAccessible(page, "event editor");
  await page.goto(`/manage/events/${event.id}/orders`);
  await page.locator("#csv-export").waitFor();
  await expectAccessible(page, "orders");
});

e2e("a11y: scanner on a phone, in German", async ({ newPage }) => {
  const event = await demoEvent("Midnight Brass");
  const page = await newPage({ ...PHONE, locale: "de-DE" });
  await signIn(page, DEMO_STAFF, `/scan/${event.id}`);
  assert.equal(await page.locator("html").getAttribute("lang"), "de");
  await page.locator('body[data-scanner-ready="1"]').waitFor();
  await expectAccessible(page, "scanner (phone, German)");
});
