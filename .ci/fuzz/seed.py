"""Seeds a fresh Backline for the schema fuzzer: an organizer who owns an organization with a
venue, a published event with ticket types in a quota, a voucher, a check-in list, and a
confirmed booking. Prints the ids and the organizer's token as JSON (stdlib only)."""
import json
import sys
import urllib.request

API = sys.argv[1].rstrip("/")


def call(method, path, body=None, token=None):
    data = None if body is None else json.dumps(body).encode()
    req = urllib.request.Request(API + path, data=data, method=method)
    req.add_header("content-type", "application/json")
    if token:
        req.add_header("authorization", f"Bearer {token}")
    with urllib.request.urlopen(req) as resp:
        text = resp.read()
        return json.loads(text) if text else None


auth = call("POST", "/api/auth/register", {"email": "fuzz-organizer@example.org", "password": "correct horse battery", "name": "Fuzz Organizer"})
token = auth["access_token"]
org = call("POST", "/api/orgs", {"name": "Fuzz Promotions"}, token)["id"]
venue = call("POST", f"/api/orgs/{org}/venues", {"name": "Fuzz Hall", "address": "1 Test Street", "city": "Berlin", "country": "DE", "capacity": 900, "time_zone": "Europe/Berlin"}, token)["id"]
event = call("POST", "/api/events", {"org_id": org, "venue_id": venue, "name": "Fuzz Night", "description": "Generated requests",
                                      "category": "jazz", "starts_at": "2030-06-01T19:00:00Z", "ends_at": "2030-06-01T23:00:00Z"}, token)["id"]
call("PUT", f"/api/events/{event}", {"status": "published"}, token)
ga = call("POST", f"/api/events/{event}/ticket-types", {"name": "General admission", "price": 2500, "currency": "EUR"}, token)["id"]
free = call("POST", f"/api/events/{event}/ticket-types", {"name": "Guest list", "price": 0, "currency": "EUR"}, token)["id"]
quota = call("POST", f"/api/events/{event}/quotas", {"name": "Floor", "capacity": 500, "ticket_type_ids": [ga, free]}, token)["id"]
voucher = call("POST", f"/api/events/{event}/vouchers", {"code": "FUZZ10", "percent_off": 10, "max_uses": 100}, token)["id"]
checkin_list = call("POST", f"/api/events/{event}/checkin-lists", {"name": "Main door"}, token)["id"]
booking = call("POST", "/api/bookings", {"event_id": event, "positions": [{"ticket_type_id": free, "quantity": 1}],
                                         "buyer_email": "fan@example.org", "buyer_name": "Fan"})
paid = call("POST", "/api/bookings", {"event_id": event, "positions": [{"ticket_type_id": ga, "quantity": 1}],
                                      "buyer_email": "payer@example.org", "buyer_name": "Payer"})
call("POST", f"/api/bookings/{paid['id']}/mark-paid", {"reference": "fuzz transfer"}, token)
print(json.dumps({"token": token, "org": org, "venue": venue, "event": event, "ticket_type": ga, "quota": quota,
                  "voucher": voucher, "checkin_list": checkin_list, "booking": booking["id"], "paid_booking": paid["id"],
                  "user": auth.get("user", {}).get("id")}))

# Path parameters for the fuzzer: the seeded rows, so operations on one resource reach the
# handler instead of a 404 for a random id. DELETEs keep drawing random ids, so no
# operation removes what later ones need.
bindings = [
    (r"^/api/events/\{id\}", event),
    (r"^/api/orgs/\{id\}", org),
    (r"^/api/orgs/\{org_id\}", org),
    (r"^/api/bookings/\{id\}", paid["id"]),
    (r"^/api/checkin-lists/\{id\}", checkin_list),
    (r"^/api/quotas/\{id\}", quota),
    (r"^/api/vouchers/\{id\}", voucher),
    (r"^/api/ticket-types/\{id\}", ga),
    (r"^/api/venues/\{id\}", venue),
]
with open(sys.argv[2], "w") if len(sys.argv) > 2 else open("/dev/null", "w") as out:
    for regex, value in bindings:
        name = "org_id" if "{org_id}" in regex else "id"
        out.write(f'\n[[operations]]\ninclude-path-regex = {json.dumps(regex)}\nexclude-method = "DELETE"\n'
                  f'parameters = {{ "path.{name}" = {json.dumps(value)} }}\n')
