// Setting the stage through the JSON API (bearer tokens), so browser tests spend their time
// on the pages they are about rather than on clicking through an organizer's setup.

import { BASE, unique } from "./harness.mjs";

export const PASSWORD = "e2e-password-2026";

/** A JSON API call; throws with the answer's body unless the status is `expect` (default: any 2xx). */
export async function api(method, path, { token, body, headers = {}, expect } = {}) {
  const res = await fetch(BASE + path, {
    method,
    headers: {
      accept: "application/json",
      ...(body === undefined ? {} : { "content-type": "application/json" }),
      ...(token ? { authorization: `Bearer ${token}` } : {}),
      ...headers,
    },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await res.text();
  let json = null;
  try {
    json = text ? JSON.parse(text) : null;
  } catch {
    /* not JSON */
  }
  const ok = expect === undefined ? res.ok : res.status === expect;
  if (!ok) throw new Error(`${method} ${path} answered ${res.status}: ${text.slice(0, 800)}`);
  return json;
}

/** A new account: `{ token, user, email, password, name }`. */
export async function registerUser(tag = "user", name = "E2E Person") {
  const email = `${unique(tag)}@example.com`;
  const pair = await api("POST", "/api/auth/register", { body: { email, password: PASSWORD, name } });
  return { token: pair.access_token, user: pair.user, email, password: PASSWORD, name };
}

export async function login(email, password) {
  const pair = await api("POST", "/api/auth/login", { body: { email, password } });
  return pair.access_token;
}

/** `YYYY-MM-DD` `days` from today (UTC). */
export function dayFromToday(days) {
  return new Date(Date.now() + days * 86_400_000).toISOString().slice(0, 10);
}

/**
 * An organizer with an organization and a published event selling `types` (each
 * `{ name, price, currency, capacity? }`; a type without capacity goes into `quota`, a shared
 * pool `{ name, capacity }` of every type without its own). `settings` go to the event's
 * ticketing settings (e.g. `{ hold_seconds: 2 }`).
 * Returns `{ organizer, org, event, types }` with `types` by name.
 */
export async function organizerWithEvent({ eventName, types, quota, settings, daysAhead = 30 } = {}) {
  const organizer = await registerUser("organizer", "E2E Organizer");
  const token = organizer.token;
  const org = await api("POST", "/api/orgs", { token, body: { name: unique("E2E Org") } });
  const day = dayFromToday(daysAhead);
  const event = await api("POST", "/api/events", {
    token,
    body: {
      org_id: org.id,
      name: eventName || unique("E2E Event"),
      starts_at: `${day}T19:00:00Z`,
      ends_at: `${day}T23:00:00Z`,
      time_zone: "Europe/Berlin",
      status: "published",
    },
  });
  const byName = {};
  for (const t of types) {
    byName[t.name] = await api("POST", `/api/events/${event.id}/ticket-types`, {
      token,
      body: { name: t.name, price: t.price, currency: t.currency || "EUR", ...(t.capacity ? { capacity: t.capacity } : {}) },
    });
  }
  const pooled = types.filter((t) => !t.capacity).map((t) => byName[t.name].id);
  if (pooled.length) {
    await api("POST", `/api/events/${event.id}/quotas`, {
      token,
      body: { name: quota?.name || "Shared", capacity: quota?.capacity ?? 100, ticket_type_ids: pooled },
    });
  }
  if (settings) await api("PUT", `/api/events/${event.id}/ticketing-settings`, { token, body: settings });
  return { organizer, org, event, types: byName };
}

/** A booking made through the API (anonymous buyer); free ones are confirmed at once. */
export async function book(eventId, positions, buyer = {}) {
  return api("POST", "/api/bookings", {
    headers: { "idempotency-key": unique("book") },
    body: {
      event_id: eventId,
      positions,
      buyer_email: buyer.email || `${unique("buyer")}@example.com`,
      buyer_name: buyer.name || "E2E Buyer",
    },
  });
}

/** The demo's accounts (crates/backline/src/cli/demo.rs): the organization's owner and its door staff. */
export const DEMO_OWNER = { email: "ava@backline.demo", password: "backline-demo-2026" };
export const DEMO_STAFF = { email: "sam@backline.demo", password: "backline-demo-2026" };

/** The demo organization's owner signed in through the API, with the organization. */
export async function demoOwner() {
  const token = await login(DEMO_OWNER.email, DEMO_OWNER.password);
  const orgs = await api("GET", "/api/orgs", { token });
  const list = Array.isArray(orgs) ? orgs : orgs.items;
  const org = list.find((o) => o.slug === "nightshift");
  if (!org) throw new Error("no demo organization: run `backline demo` before starting the server");
  return { token, org };
}

/** A published demo event by name (the demo must be loaded). */
export async function demoEvent(name) {
  const found = await api("GET", `/api/events?q=${encodeURIComponent(name)}`);
  const list = Array.isArray(found) ? found : found.items;
  const event = list.find((e) => e.name === name);
  if (!event) throw new Error(`no demo event "${name}": run \`backline demo\` before starting the server`);
  return event;
}
