// An organizer's first event, all in the browser: registers, creates an organization and a
// draft event (datetime-local fields in the event's zone), adds two ticket types without
// capacity of their own and a quota they share, publishes; a fan in another browser buys one
// and the organizer's dashboard counts the sale.

import assert from "node:assert/strict";
import { e2e, MAIL_DIR, unique } from "./lib/harness.mjs";
import { api, book, dayFromToday, organizerWithEvent, PASSWORD } from "./lib/api.mjs";
import {
  CARD_OK, noProblem, payWithCard, registerInBrowser, signIn, startCheckout, submit, waitForConfirmed, waitForMail,
} from "./lib/web.mjs";

e2e("organizer: create an event with a shared quota in the browser, publish, see a fan's sale on the dashboard", async ({ newPage }) => {
  const page = await newPage();
  const organizer = { name: "Olivia Organizer", email: `${unique("org")}@example.com`, password: PASSWORD };
  await registerInBrowser(page, organizer);
  if (MAIL_DIR) await waitForMail(organizer.email, /Welcome to Backline/);

  await page.getByRole("link", { name: "Organize" }).click();
  await page.getByRole("heading", { level: 1, name: "Your organizations" }).waitFor();
  const orgName = unique("Basement Shows");
  const orgForm = page.locator('form[action="/manage/orgs"]');
  await orgForm.getByLabel("Name").fill(orgName);
  await submit(page, orgForm.getByRole("button", { name: "Create organization" }));
  await noProblem(page, "creating the organization");
  assert.match(page.url(), /\/manage\/orgs\/[0-9a-f-]{36}$/);
  await page.getByRole("heading", { level: 1, name: orgName }).waitFor();
  const dashboardUrl = page.url();

  // A draft event, its times typed in Berlin time.
  const eventName = unique("Cellar Session");
  const day = dayFromToday(21);
  const eventForm = page.locator('form[action$="/events"]');
  await eventForm.getByLabel("Event name").fill(eventName);
  await eventForm.getByLabel("Starts").fill(`${day}T20:00`);
  await eventForm.getByLabel("Ends").fill(`${day}T23:30`);
  assert.equal(await eventForm.getByLabel("Time zone").inputValue(), "Europe/Berlin");
  await submit(page, eventForm.getByRole("button", { name: "Create draft" }));
  await noProblem(page, "creating the event");
  assert.match(page.url(), /\/manage\/events\/[0-9a-f-]{36}$/, "on to the new event's editor");
  const eventId = page.url().match(/\/manage\/events\/([0-9a-f-]{36})$/)[1];
  await page.getByRole("heading", { level: 1, name: new RegExp(eventName) }).waitFor();
  assert.equal(await page.locator('fieldset input[name="starts_at"]').inputValue(), `${day}T20:00`, "the editor shows the local start time");

  // Two ticket types without their own capacity…
  for (const [name, price] of [["Early bird", "12"], ["Regular", "18.50"]]) {
    const form = page.locator('form[action$="/ticket-types"]');
    await form.getByLabel("Name").fill(name);
    await form.getByLabel("Price").fill(price);
    await form.getByLabel("Currency").selectOption("EUR");
    assert.equal(await form.getByLabel("Own capacity").inputValue(), "");
    await submit(page, form.getByRole("button", { name: "Add a ticket type" }));
    await noProblem(page, `adding the ticket type ${name}`);
  }
  const typeRows = page.locator("table.data tbody tr");
  assert.equal(await typeRows.count(), 2);
  assert.match(await typeRows.nth(0).innerText(), /none — not bookable yet/);

  // …and one quota both draw from.
  const quotaForm = page.locator('form[action$="/quotas"]');
  await quotaForm.getByLabel("Quota name").fill("Cellar");
  await quotaForm.getByLabel("Capacity").fill("60");
  await quotaForm.getByLabel("Early bird").check();
  await quotaForm.getByLabel("Regular").check();
  await submit(page, quotaForm.getByRole("button", { name: "Add a shared quota" }));
  await noProblem(page, "adding the quota");
  await page.getByText("shared by Early bird, Regular").waitFor();
  await page.getByText("0 of 60 taken").waitFor();

  await submit(page, page.getByRole("button", { name: "Publish" }));
  await noProblem(page, "publishing");
  await page.locator("h1 .badge", { hasText: "Published" }).waitFor();
  const publicLink = page.getByRole("link", { name: "Public page" });
  assert.equal(await publicLink.getAttribute("href"), `/events/${eventId}`);

  // A fan, in a browser of their own, buys an early-bird ticket.
  const fan = await newPage();
  await fan.goto(`/events/${eventId}`);
  await fan.getByRole("heading", { level: 1, name: eventName }).waitFor();
  await startCheckout(fan, { "Early bird": 1 }, { name: "Cellar Fan", email: `${unique("cellar-fan")}@example.com` });
  await payWithCard(fan, CARD_OK);
  await waitForConfirmed(fan);

  // The dashboard counts it: today's sales and the event's row.
  await page.goto(dashboardUrl);
  const today = Number((await page.locator("#today-sales").innerText()).trim());
  assert.ok(today >= 1, `#today-sales shows ${today}`);
  const row = page.locator("table.data tbody tr").filter({ has: page.getByRole("link", { name: eventName }) });
  assert.equal(await row.count(), 1, "the event has a row on the dashboard");
  const cells = await row.locator("td").allInnerTexts();
  assert.equal(cells[2].trim(), "Published");
  assert.equal(cells[3].trim(), "1 / 60", "sold / capacity");
  assert.match(cells[4], /12\.00/, "the gross sales show the early-bird price");

  // The editor's quota now has one seat taken.
  await page.goto(`/manage/events/${eventId}`);
  await page.getByText("1 of 60 taken").waitFor();
});

// "Today" is the same day for every event, whatever its time zone: a sale made a moment ago
// counts in today's figure. The zone is one whose calendar date differs from UTC's right now
// (Pago Pago is UTC-11, Kiritimati UTC+14), which is where a count per event-local day and a
// "today" in UTC part ways.
e2e("dashboard: a sale made just now counts as today's for an event in a far-off time zone", async ({ newPage }) => {
  const zone = new Date().getUTCHours() < 10 ? "Pacific/Pago_Pago" : "Pacific/Kiritimati";
  const { organizer, org, event, types } = await organizerWithEvent({ types: [{ name: "Entry", price: 0, capacity: 30 }] });
  await api("PUT", `/api/events/${event.id}`, { token: organizer.token, body: { time_zone: zone } });
  await book(event.id, [{ ticket_type_id: types.Entry.id, quantity: 2 }]);

  const page = await newPage();
  await signIn(page, organizer, `/manage/orgs/${org.id}`);
  const row = page.locator("table.data tbody tr").filter({ has: page.getByRole("link", { name: event.name }) });
  assert.equal((await row.locator("td").nth(3).innerText()).trim(), "2 / 30", "the event's row counts the two tickets");
  const today = Number((await page.locator("#today-sales").innerText()).trim());
  assert.equal(today, 2, `#today-sales counts the 2 tickets sold a moment ago for an event in ${zone} (shows ${today})`);
});
