#!/usr/bin/env python3
"""Reads a running Backline's event pages with a real structured-data processor (extruct:
JSON-LD, Open Graph) and checks what search engines and link previews will see: a
schema.org Event with its name, start and end as local times with an offset, its place and
offers, and the Open Graph and Twitter card tags. Usage: structured_data.py BASE_URL
(the server needs at least one published event: `backline demo`)."""

import re
import sys
import urllib.request

import extruct


def fetch(url: str) -> str:
    req = urllib.request.Request(url, headers={"Accept": "text/html", "Accept-Language": "en"})
    with urllib.request.urlopen(req, timeout=10) as resp:
        return resp.read().decode("utf-8")


def fail(message: str) -> None:
    print(f"structured data: {message}", file=sys.stderr)
    sys.exit(1)


def main() -> None:
    base = sys.argv[1].rstrip("/")
    home = fetch(base + "/")
    ids = sorted(set(re.findall(r'href="/events/([0-9a-f-]{36})"', home)))
    if not ids:
        fail("the home page links no event")
    checked = 0
    for event_id in ids:
        url = f"{base}/events/{event_id}"
        data = extruct.extract(fetch(url), base_url=url, syntaxes=["json-ld", "opengraph"], uniform=True)
        events = [d for d in data["json-ld"] if d.get("@type") == "Event"]
        if len(events) != 1:
            fail(f"{url}: expected one schema.org Event, found {data['json-ld']}")
        ev = events[0]
        if ev.get("@context") not in ("https://schema.org", "https://schema.org/"):
            fail(f"{url}: @context is {ev.get('@context')!r}")
        for key in ("name", "startDate", "endDate", "url", "eventStatus", "offers"):
            if not ev.get(key):
                fail(f"{url}: Event has no {key}: {ev}")
        for key in ("startDate", "endDate"):
            if not re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d([+-]\d\d:\d\d|Z)", ev[key]):
                fail(f"{url}: {key} {ev[key]!r} is not a local time with an offset")
        if ev["url"] != url:
            fail(f"{url}: Event url is {ev['url']!r}")
        for offer in ev["offers"]:
            if offer.get("@type") != "Offer" or not offer.get("priceCurrency") or "price" not in offer:
                fail(f"{url}: incomplete offer {offer}")
            if not re.fullmatch(r"\d+(\.\d+)?", str(offer["price"])):
                fail(f"{url}: price {offer['price']!r} is not a decimal number")
        place = ev.get("location")
        if place is not None and (place.get("@type") != "Place" or place.get("address", {}).get("@type") != "PostalAddress"):
            fail(f"{url}: location is not a Place with a PostalAddress: {place}")
        og = dict(data["opengraph"][0]) if data["opengraph"] else {}
        # extruct's uniform output names og:type `@type`.
        og.setdefault("og:type", og.get("@type"))
        for key in ("og:title", "og:url", "og:type", "og:description"):
            if not og.get(key):
                fail(f"{url}: Open Graph has no {key}: {og}")
        if og["og:title"] != ev["name"]:
            fail(f"{url}: og:title {og['og:title']!r} differs from the Event's name {ev['name']!r}")
        checked += 1
    print(f"structured data: {checked} event pages carry a valid schema.org Event and Open Graph card")


if __name__ == "__main__":
    main()
