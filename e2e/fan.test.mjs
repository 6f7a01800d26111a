// A fan's visit on the demo data: registers, finds events by searching, takes a free ticket
// for the livestream, buys a paid one (declined card first, then a good one) and finds both
// orders under "My tickets".

import assert from "node:assert/strict";
import { e2e, MAIL_DIR, unique } from "./lib/harness.mjs";
import { PASSWORD } from "./lib/api.mjs";
import {
  CARD_DECLINED, CARD_OK, findEvent, payWithCard, registerInBrowser, startCheckout, waitForConfirmed, waitForMail,
} from "./lib/web.mjs";

e2e("fan: search, a free ticket, a paid ticket after a declined card, both under My tickets", async ({ newPage }) => {
  const page = await newPage();
  const fan = { name: "Frankie Fan", email: `${unique("fan")}@example.com`, password: PASSWORD };
  await registerInBrowser(page, fan);
  if (MAIL_DIR) await waitForMail(fan.email, /Welcome to Backline/);

  // The free livestream: confirmed at once, with a QR code per ticket.
  await findEvent(page, "ambient", "Tokyo Ambient Sessions");
  const free = await startCheckout(page, { Livestream: 1 });
  await waitForConfirmed(page);
  assert.ok(free.token, "the booking page's address carries the booking token");
  assert.ok((await page.locator(".qr-tickets .qr svg").count()) >= 1, "the confirmed page shows an inline SVG QR code");
  assert.equal(await page.locator("form.pay-test").count(), 0, "nothing to pay for a free ticket");

  // A paid ticket: the hold counts down and the test card form is offered.
  await findEvent(page, "brass", "Midnight Brass");
  const paid = await startCheckout(page, { Standing: 1 });
  await page.locator('section.booking[data-status="pending_payment"]').waitFor();
  const countdown = page.locator(".countdown");
  await countdown.waitFor();
  await assert.doesNotReject(
    page.waitForFunction(() => /^\d+:\d\d$/.test(document.querySelector(".countdown")?.textContent.trim() || ""), null, { timeout: 5_000 }),
    "the hold's countdown ticks (m:ss)",
  );
  const payForm = page.locator("form.pay-test");
  await payForm.waitFor();
  await page.getByText("Test mode — no real money is charged.").waitFor();

  await payWithCard(page, CARD_DECLINED);
  assert.match(page.url(), /problem=card_declined/);
  await assert.doesNotReject(page.locator("#booking-problem").getByText("The card was declined. Try another card.").waitFor());
  assert.equal(await page.locator('section.booking[data-status="pending_payment"]').count(), 1, "still awaiting payment");

  await payWithCard(page, CARD_OK);
  await waitForConfirmed(page);
  assert.equal(new URL(page.url()).pathname, `/bookings/${paid.id}`);
  assert.ok((await page.locator(".qr-tickets .qr svg").count()) >= 1, "the paid booking shows its QR code");
  assert.equal(await page.locator("form.pay-test").count(), 0, "a confirmed booking offers no payment");

  // Both orders belong to the signed-in fan.
  await page.getByRole("link", { name: "My tickets" }).click();
  await page.getByRole("heading", { level: 1, name: "My tickets" }).waitFor();
  const cards = page.locator("ul.events > li.card");
  for (const [id, event] of [[free.id, "Tokyo Ambient Sessions"], [paid.id, "Midnight Brass"]]) {
    const card = cards.filter({ has: page.locator(`a[href="/bookings/${id}"]`) });
    assert.equal(await card.count(), 1, `${event} is listed under My tickets`);
    assert.equal((await card.getByRole("link").innerText()).trim(), event);
    assert.equal((await card.locator(".badge").innerText()).trim(), "Confirmed");
  }
  assert.equal(await cards.count(), 2, "exactly the two orders of this fan");

  // The listing links to the booking page, which opens without a token for its owner.
  await cards.getByRole("link", { name: "Midnight Brass" }).click();
  await waitForConfirmed(page);
});
