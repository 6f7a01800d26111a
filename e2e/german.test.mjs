// The pages follow the browser's language (Accept-Language), and the language switch
// (submitted by app.js when a language is picked) changes it for the rest of the visit.

import assert from "node:assert/strict";
import { e2e } from "./lib/harness.mjs";
import { demoEvent } from "./lib/api.mjs";

e2e("German: a browser asking for German gets the pages in German; the switch goes back to English", async ({ newPage }) => {
  const page = await newPage({ locale: "de-DE" });
  await page.goto("/");
  await page.getByRole("heading", { level: 1, name: "Kommende Veranstaltungen" }).waitFor();
  assert.equal(await page.locator("html").getAttribute("lang"), "de");
  assert.equal(await page.locator("#lang-select").inputValue(), "de");

  // An event page too, with its dates in German.
  const event = await demoEvent("Midnight Brass");
  await page.goto(`/events/${event.id}`);
  await page.getByRole("heading", { level: 2, name: "Tickets" }).waitFor();
  assert.equal((await page.locator("dl.facts dt").first().innerText()).trim(), "Wann");
  await page.getByRole("button", { name: "Weiter" }).waitFor();
  const when = await page.locator("dl.facts dd").first().innerText();
  assert.doesNotMatch(when, /\b(Mon|Tue|Wed|Thu|Fri|Sat|Sun)\b/, `dates are in German: ${when}`);

  // Picking English submits the switch by itself and stays on the page.
  await Promise.all([page.waitForURL(`**/events/${event.id}`), page.locator("#lang-select").selectOption("en")]);
  await page.getByRole("button", { name: "Continue" }).waitFor();
  assert.equal(await page.locator("html").getAttribute("lang"), "en");
  await page.goto("/");
  await page.getByRole("heading", { level: 1, name: "Upcoming events" }).waitFor();
});
