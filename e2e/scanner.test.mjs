// The door scanner without a network: a confirmed booking with two tickets (set up through
// the API); staff open /scan/{event}, the connection drops, a real ticket is admitted on its
// signature alone and waits in the queue, a forged one is refused, the page reloads from the
// service worker while still offline, and once back online the queue is uploaded.

import assert from "node:assert/strict";
import { e2e } from "./lib/harness.mjs";
import { api, book, organizerWithEvent } from "./lib/api.mjs";
import { signIn } from "./lib/web.mjs";

const B64URL = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

/** The same QR text with one character of its signature changed (still canonical base64url). */
function forge(qr) {
  const [prefix, payload, sig] = qr.split(".");
  const i = 10; // inside the signature, where every character carries six bits of it
  const swapped = B64URL[(B64URL.indexOf(sig[i]) + 1) % 64];
  return [prefix, payload, sig.slice(0, i) + swapped + sig.slice(i + 1)].join(".");
}

async function scan(page, text) {
  const result = page.locator("#scanner-result");
  await page.locator("#manual-code").fill(text);
  await page.locator("#manual-code").press("Enter");
  // check() clears data-result while it works; wait for the verdict.
  await page.waitForFunction(() => document.getElementById("scanner-result").dataset.result !== "", null, { timeout: 10_000 });
  return result.getAttribute("data-result");
}

/**
 * The QR codes the fan's booking page shows, read back with the scanner page's own decoder
 * (jsQR): each inline SVG drawn onto a canvas and decoded, as a camera frame would be.
 */
async function readBookingQrCodes(scannerPage, bookingUrl) {
  return scannerPage.evaluate(async (url) => {
    const html = await (await fetch(url, { credentials: "omit" })).text();
    const doc = new DOMParser().parseFromString(html, "text/html");
    const texts = [];
    for (const svg of doc.querySelectorAll(".qr-tickets .qr svg")) {
      const scale = 8;
      const size = Number(svg.getAttribute("viewBox").split(" ")[2]) * scale;
      svg.setAttribute("width", size);
      svg.setAttribute("height", size);
      const img = new Image();
      img.src = `data:image/svg+xml;base64,${btoa(new XMLSerializer().serializeToString(svg))}`;
      await img.decode();
      const canvas = document.createElement("canvas");
      canvas.width = canvas.height = size;
      const ctx = canvas.getContext("2d");
      ctx.drawImage(img, 0, 0);
      const found = window.jsQR(ctx.getImageData(0, 0, size, size).data, size, size);
      texts.push(found ? found.data : null);
    }
    return texts;
  }, bookingUrl);
}

const pending = (page) => page.locator("#scanner-pending").getAttribute("data-count");

/** Waits until the service worker has kept the page, its data and its scripts. */
async function waitForOfflineCopy(page, eventId) {
  await page.waitForFunction(
    async (id) => {
      if (!navigator.serviceWorker?.controller && !(await navigator.serviceWorker?.getRegistration())?.active) return false;
      const names = await caches.keys();
      const name = names.find((n) => n.startsWith("backline-scanner-"));
      if (!name) return false;
      const cache = await caches.open(name);
      const paths = (await cache.keys()).map((r) => new URL(r.url).pathname);
      const scripts = [...document.querySelectorAll('script[src^="/assets/"]')].map((s) => s.getAttribute("src"));
      return paths.includes(`/scan/${id}`) && paths.includes(`/scan/${id}/data`) && scripts.every((s) => paths.includes(s));
    },
    eventId,
    { timeout: 10_000, polling: 200 },
  );
}

e2e("scanner: offline check-in by signature, a forged code refused, offline reload, sync when back online", async ({ newContext }) => {
  const { organizer, event, types } = await organizerWithEvent({ types: [{ name: "Door", price: 0, capacity: 50 }] });
  const booking = await book(event.id, [{ ticket_type_id: types.Door.id, quantity: 2 }]);
  assert.equal(booking.status, "confirmed");
  // The buyer's view of the booking, as the booking page's link gives it.
  const view = await api("GET", `/api/bookings/${booking.id}?token=${encodeURIComponent(booking.booking_token)}`);
  const [first, second] = view.tickets.map((t) => t.qr);
  assert.ok(first?.startsWith("BL1.") && second?.startsWith("BL1."), "both tickets have QR texts");

  const context = await newContext();
  const page = await context.newPage();
  await signIn(page, organizer, `/scan/${event.id}`);
  assert.equal(new URL(page.url()).pathname, `/scan/${event.id}`);
  await page.locator('body[data-scanner-ready="1"]').waitFor();
  assert.ok(Number(await page.locator("body").getAttribute("data-scanner-keys")) >= 1, "the organization's keys are on the device");
  await waitForOfflineCopy(page, event.id);

  // What the booking page prints is what the door reads.
  const printed = await readBookingQrCodes(page, `/bookings/${booking.id}?token=${encodeURIComponent(booking.booking_token)}`);
  assert.deepEqual(printed, [first, second], "the booking page's QR codes decode to the tickets' QR texts");

  await context.setOffline(true);
  await page.locator('#scanner-status[data-state="offline"]').waitFor();

  assert.equal(await scan(page, first), "offline_valid", "a genuine ticket is admitted offline on its signature");
  await page.locator('#scanner-pending[data-count="1"]').waitFor();

  assert.equal(await scan(page, forge(first)), "invalid", "a forged signature is refused offline");
  assert.equal(await scan(page, forge(second)), "invalid");
  assert.equal(await pending(page), "1", "refused codes are not queued");

  // Opened once, the page loads without a network (from the service worker).
  const reloaded = await page.reload();
  assert.ok(reloaded, "the offline reload answered");
  assert.ok(reloaded.fromServiceWorker(), "the offline reload was served by the service worker");
  await page.getByRole("heading", { level: 1, name: event.name }).waitFor();
  await page.locator('body[data-scanner-ready="1"]').waitFor();
  await page.locator('#scanner-status[data-state="offline"]').waitFor();
  await page.locator('#scanner-pending[data-count="1"]').waitFor(); // the queue survived the reload
  assert.equal(await scan(page, first), "already_checked_in", "this device remembers whom it admitted");
  assert.equal(await pending(page), "1");

  // Back online: the queue is uploaded.
  await context.setOffline(false);
  await page.locator('#scanner-pending[data-count="0"]').waitFor({ timeout: 15_000 });
  await page.locator('#scanner-status[data-state="online"]').waitFor();
  const status = await api("GET", `/api/checkin-lists/${event.id}/status`, { token: organizer.token });
  assert.equal(status.expected, 2);
  assert.equal(status.checked_in, 1, "the offline scan reached the server");

  // The server now judges: the first ticket is in, the second still valid.
  assert.equal(await scan(page, first), "already_checked_in");
  assert.equal(await scan(page, second), "valid");
  assert.equal(await scan(page, forge(second)), "invalid", "a forged code is refused online too");
  const after = await api("GET", `/api/checkin-lists/${event.id}/status`, { token: organizer.token });
  assert.equal(after.checked_in, 2);
});

e2e("scanner: typed codes wait offline as queued and get the server's verdict on sync", async ({ newContext }) => {
  const { organizer, event, types } = await organizerWithEvent({ types: [{ name: "Door", price: 0, capacity: 10 }] });
  const booking = await book(event.id, [{ ticket_type_id: types.Door.id, quantity: 1 }]);
  const code = booking.tickets[0].code;
  // Typed the way a hurried person at the door might: lower case, in groups.
  const typed = code.toLowerCase().replace(/(.{4})(?=.)/g, "$1 ");

  const context = await newContext();
  const page = await context.newPage();
  await signIn(page, organizer, `/scan/${event.id}`);
  await page.locator('body[data-scanner-ready="1"]').waitFor();
  await context.setOffline(true);
  await page.locator('#scanner-status[data-state="offline"]').waitFor();

  assert.equal(await scan(page, typed), "queued", "a typed code cannot be checked offline: it waits");
  assert.equal(await scan(page, "NOSUCHTICKET42"), "queued");
  await page.locator('#scanner-pending[data-count="2"]').waitFor();

  await context.setOffline(false);
  await page.locator('#scanner-pending[data-count="0"]').waitFor({ timeout: 15_000 });
  const recent = page.locator("#scanner-recent li");
  const entry = (label) => recent.filter({ has: page.locator(".scanner-recent-code", { hasText: label }) });
  await entry(typed).and(page.locator('[data-result="valid"]')).waitFor();
  await entry("NOSUCHTICKET42").and(page.locator('[data-result="unknown"]')).waitFor();
  assert.equal(await entry(typed).locator(".badge").innerText(), "synced");
  const status = await api("GET", `/api/checkin-lists/${event.id}/status`, { token: organizer.token });
  assert.equal(status.checked_in, 1);
});
