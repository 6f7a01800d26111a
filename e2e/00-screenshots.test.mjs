// Screenshots of the main pages on the demo data, for the README (docs/screenshots when
// BACKLINE_SCREENSHOTS=docs/screenshots, else a temp dir): desktop pages 1280 wide; the
// scanner, and the event page in German, also 390 wide (a phone). The file's name puts it
// first (node --test runs files in name order), so the pictures show the demo data alone,
// before the other tests add their own events.

import assert from "node:assert/strict";
import path from "node:path";
import { e2e, PHONE, screenshotDir, unique } from "./lib/harness.mjs";
import { api, DEMO_OWNER, DEMO_STAFF, demoEvent, demoOwner, PASSWORD } from "./lib/api.mjs";
import { CARD_OK, payWithCard, registerInBrowser, signIn, startCheckout, waitForConfirmed } from "./lib/web.mjs";

async function shot(page, name) {
  const file = path.join(screenshotDir(), `${name}.png`);
  // Nothing focused or blinking: the picture shows the page as it rests.
  await page.evaluate(() => document.activeElement?.blur());
  await page.screenshot({ path: file, fullPage: true, animations: "disabled", caret: "hide" });
  return file;
}

async function scanManually(page, text) {
  await page.locator("#manual-code").fill(text);
  await page.locator("#manual-code").press("Enter");
  await page.waitForFunction(() => document.getElementById("scanner-result").dataset.result !== "");
  return page.locator("#scanner-result").getAttribute("data-result");
}

e2e("screenshots: home, event, checkout, my tickets, dashboard, scanner (desktop and phone)", async ({ newPage }) => {
  const brass = await demoEvent("Midnight Brass");
  const fanPage = await newPage();
  await registerInBrowser(fanPage, { name: "Robin Example", email: `${unique("robin")}@example.com`, password: PASSWORD });

  await fanPage.goto("/");
  await fanPage.locator("ul.events li").first().waitFor();
  await shot(fanPage, "home");

  await fanPage.goto(`/events/${brass.id}`);
  await fanPage.locator("form.checkout-start").waitFor();
  await shot(fanPage, "event");

  const german = await newPage({ ...PHONE, locale: "de-DE" });
  await german.goto(`/events/${brass.id}`);
  await german.locator("form.checkout-start").waitFor();
  await shot(german, "event-phone-de");

  // The booking page while the seats are held: the countdown and the test card form.
  await startCheckout(fanPage, { Standing: 2 });
  await fanPage.waitForFunction(() => /^\d+:\d\d$/.test(document.querySelector(".countdown")?.textContent.trim() || ""));
  await fanPage.locator("form.pay-test").waitFor();
  await shot(fanPage, "checkout");

  await payWithCard(fanPage, CARD_OK);
  await waitForConfirmed(fanPage);
  const url = new URL(fanPage.url());
  const bookingId = url.pathname.split("/").pop();
  const token = url.searchParams.get("token");
  await shot(fanPage, "my-tickets");

  // A free livestream ticket too, so the fan's list has more than one order.
  await fanPage.goto(`/events/${(await demoEvent("Tokyo Ambient Sessions")).id}`);
  await startCheckout(fanPage, { Livestream: 1 });
  await waitForConfirmed(fanPage);

  await fanPage.goto("/tickets");
  await fanPage.locator("ul.events li").first().waitFor();
  await shot(fanPage, "tickets-list");

  const { org } = await demoOwner();
  const organizer = await newPage();
  await signIn(organizer, DEMO_OWNER, `/manage/orgs/${org.id}`);
  await organizer.locator("#today-sales").waitFor();
  await shot(organizer, "dashboard");

  // The scanner after admitting the fan's tickets, on a desktop and on a phone.
  const booking = await api("GET", `/api/bookings/${bookingId}?token=${encodeURIComponent(token)}`);
  const [first, second] = booking.tickets.map((t) => t.qr);
  await organizer.goto(`/scan/${brass.id}`);
  await organizer.locator('body[data-scanner-ready="1"]').waitFor();
  assert.equal(await scanManually(organizer, first), "valid");
  await shot(organizer, "scanner");

  const phone = await newPage(PHONE);
  await signIn(phone, DEMO_STAFF, `/scan/${brass.id}`);
  await phone.locator('body[data-scanner-ready="1"]').waitFor();
  assert.equal(await scanManually(phone, second), "valid");
  await shot(phone, "scanner-phone");
  const width = await phone.evaluate(() => document.documentElement.scrollWidth);
  assert.ok(width <= 390, `the scanner fits a 390 px phone without scrolling sideways (${width} px wide)`);
});
