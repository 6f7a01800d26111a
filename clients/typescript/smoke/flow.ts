// The organizer-to-door flow through the generated client, against a running Backline:
// register → organization → event → ticket type → publish → booking → paid → check-in.
// Every call is typed by the OpenAPI description, so this file failing to compile means the
// description and the flow disagree; failing to run means the server and the description do.
// Usage: node dist/smoke/flow.js http://127.0.0.1:8080
import { createBacklineClient, type Problem } from "../src/index.js";

const baseUrl = process.argv[2] ?? "http://127.0.0.1:8080";
let token: string | undefined;
const api = createBacklineClient({ baseUrl, token: () => token });

function must<T>(step: string, result: { data?: T; error?: unknown; response: Response }): T {
  if (result.data === undefined) {
    const problem = result.error as Problem | undefined;
    throw new Error(`${step}: HTTP ${result.response.status} ${problem?.code ?? ""} ${problem?.detail ?? ""}`);
  }
  console.log(`ok  ${step} (${result.response.status})`);
  return result.data;
}

function check(what: string, condition: boolean): void {
  if (!condition) throw new Error(`expected: ${what}`);
}

const email = `organizer-${Date.now()}@example.org`;
const session = must(
  "register",
  await api.POST("/api/auth/register", { body: { email, password: "a long enough password", name: "Typed Client" } }),
);
token = session.access_token;

const me = must("who am I", await api.GET("/api/users/me"));
check("the registered user is signed in", me.email === email);

const org = must("create organization", await api.POST("/api/orgs", { body: { name: "Typed Promotions" } }));

const event = must(
  "create event",
  await api.POST("/api/events", {
    body: {
      org_id: org.id,
      name: "Typed Night",
      starts_at: "2031-05-01T19:00:00Z",
      ends_at: "2031-05-01T23:00:00Z",
      time_zone: "Europe/Berlin",
    },
  }),
);
check("a new event is a draft", event.status === "draft");

const ga = must(
  "create ticket type",
  await api.POST("/api/events/{id}/ticket-types", {
    params: { path: { id: event.id } },
    body: { name: "General admission", price: 1800, currency: "EUR", capacity: 100 },
  }),
);

const published = must(
  "publish",
  await api.PUT("/api/events/{id}", { params: { path: { id: event.id } }, body: { status: "published" } }),
);
check("the event is published", published.status === "published");

const door = must(
  "create check-in list",
  await api.POST("/api/events/{id}/checkin-lists", { params: { path: { id: event.id } }, body: { name: "Main door" } }),
);

// The buyer is anonymous: the booking's token is their key to it.
const organizerToken = token;
token = undefined;
const booking = must(
  "book",
  await api.POST("/api/bookings", {
    body: {
      event_id: event.id,
      positions: [{ ticket_type_id: ga.id, quantity: 2 }],
      buyer_email: "fan@example.org",
      buyer_name: "Typed Fan",
    },
  }),
);
check("a paid booking waits for payment", booking.status === "pending_payment");
check("the booking carries its token", booking.booking_token.length > 0);
check("the total is two tickets", booking.total === 3600);

// Paid by bank transfer; the organizer records it.
token = organizerToken;
const paid = must(
  "mark paid",
  await api.POST("/api/bookings/{id}/mark-paid", {
    params: { path: { id: booking.id } },
    body: { reference: "transfer 2031-04" },
  }),
);
check("the booking is confirmed", paid.status === "confirmed");

token = undefined;
const mine = must(
  "buyer reads the booking",
  await api.GET("/api/bookings/{id}", {
    params: { path: { id: booking.id }, query: { token: booking.booking_token } },
  }),
);
const tickets = mine.tickets ?? [];
check("two valid tickets", tickets.length === 2 && tickets.every((t) => t.status === "valid"));
const first = tickets[0]!;

token = organizerToken;
const admitted = must(
  "check in",
  await api.POST("/api/checkins", { body: { list_id: door.id, code: first.code, gate: "north" } }),
);
check("the ticket is admitted", admitted.result === "valid");

const twice = must(
  "scan again",
  await api.POST("/api/checkins", { body: { list_id: door.id, code: first.code, gate: "north" } }),
);
check("a second scan is refused", twice.result === "already_checked_in");

const status = must(
  "door status",
  await api.GET("/api/checkin-lists/{id}/status", { params: { path: { id: door.id } } }),
);
check("one of two checked in", status.checked_in === 1 && status.expected === 2);

const unknown = await api.GET("/api/events/{id}", { params: { path: { id: "00000000-0000-7000-8000-000000000000" } } });
check("an unknown event is a 404 problem", unknown.response.status === 404 && unknown.error?.code === "not_found");
console.log("the typed client drove the whole flow");
