// A hold that runs out: the organizer (set up through the API) holds tickets for only two
// seconds; a fan's booking page counts down, and once the hold is over the page says so and
// offers no payment.

import assert from "node:assert/strict";
import { e2e } from "./lib/harness.mjs";
import { organizerWithEvent } from "./lib/api.mjs";
import { startCheckout } from "./lib/web.mjs";

const EXPIRED = "The hold on these tickets ran out before payment, so they were released. You can start again if tickets are still available.";

e2e("hold expiry: after the hold runs out the booking page says so and offers no payment", async ({ newPage }) => {
  const { event } = await organizerWithEvent({
    types: [{ name: "Front row", price: 4500 }],
    quota: { name: "Stalls", capacity: 20 },
    settings: { hold_seconds: 2 },
  });
  const page = await newPage();
  await page.goto(`/events/${event.id}`);
  const booking = await startCheckout(page, { "Front row": 1 }, { name: "Hasty Fan", email: "hasty@example.com" });
  await page.locator('section.booking[data-status="pending_payment"]').waitFor();
  await page.locator("form.pay-test").waitFor();
  const countdown = page.locator(".countdown");
  await countdown.waitFor();

  // The countdown (app.js) reaches zero on the page by itself; then the timer goes and an
  // alert (the one live announcement) says the hold ran out.
  const expired = page.locator('#hold-expired[role="alert"]');
  await expired.waitFor({ timeout: 6_000 });
  assert.equal((await expired.innerText()).trim(), "Your hold has expired: the tickets were released.");
  assert.equal(await countdown.isVisible(), false);

  await page.waitForTimeout(1_000); // past the two seconds by a margin

  // The card form still on the screen from before cannot pay any more.
  await page.locator("form.pay-test").getByLabel("Card number").fill("4242 4242 4242 4242");
  await page.locator("form.pay-test").getByRole("button", { name: /^Pay / }).click();
  await page.waitForLoadState("load");
  await page.getByText("This order can no longer be paid: its hold expired or it was cancelled.").waitFor();

  await page.goto(booking.url);
  await page.locator('section.booking[data-status="expired"]').waitFor();
  await page.getByText(EXPIRED).waitFor();
  assert.equal(await page.locator("form.pay-test").count(), 0, "no card form");
  assert.equal(await page.locator('form[action$="/pay"]').count(), 0, "no payment form at all");
  assert.equal(await page.locator(".countdown").count(), 0, "no countdown");
  const again = page.getByRole("link", { name: "Choose tickets again" });
  assert.equal(await again.getAttribute("href"), `/events/${event.id}#tickets`);
  assert.equal(new URL(page.url()).pathname, `/bookings/${booking.id}`);
});
