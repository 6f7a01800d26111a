"""Schemathesis hooks for Backline's fuzz run (loaded through SCHEMATHESIS_HOOKS by run.sh).

Two inputs cannot be drawn from the schema alone:

* ``Idempotency-Key`` is optional on every POST; the fuzzer draws short values ("0", "00")
  over and over, so after the first request almost every later POST would be a 409
  "key reused with a different request" and the real handler would never run. A drawn key
  that is well formed is replaced by a fresh one; malformed ones are kept so the header's
  own validation is still exercised.
* ``cursor`` is an opaque token the server itself issued (base64url JSON of a sort key); a
  string drawn from its pattern is almost never one, and a 422 for it is right. The cursor's
  rejection of forged values is covered by the Rust tests, so the fuzzer leaves it out.
"""

import itertools
import re

import schemathesis

_WELL_FORMED = re.compile(r"^[\x21-\x7e]{1,255}$")
_counter = itertools.count(1)


@schemathesis.hook
def map_headers(ctx, headers):
    if headers and isinstance(headers.get("Idempotency-Key"), str):
        if _WELL_FORMED.match(headers["Idempotency-Key"]):
            headers["Idempotency-Key"] = f"fuzz-{next(_counter)}"
    return headers


@schemathesis.hook
def map_query(ctx, query):
    if query and "cursor" in query:
        del query["cursor"]
    return query


# ---- valid data is accepted, but for the rules a schema cannot state ----------------------
#
# Replaces schemathesis' positive_data_acceptance (switched off in schemathesis.toml): a
# request valid by the schema must not be refused as malformed (400/422) — except for a
# refusal naming one of the rules below, which need more than the request's own shape: one
# field against another, a row that must exist, the server's own state or configuration, a
# list only the server has (time zones). Each entry is the `detail` of such a refusal; a
# refusal not listed here fails the run, so a constraint missing from the OpenAPI
# description cannot hide behind this list.
SEMANTIC_RULES = [
    # one field against another
    r"must be after \w+",
    r"must be at most \d+ days after \w+",
    r"give \w+ or \w+, not both",
    r"must be between \d+ and \d+",  # max_per_order against min_per_order
    r"required with amount_off",
    r"required for an event without a venue",
    r"at most one attendee per ticket",
    r"at most \d+ tickets per booking",
    r"listed twice; book it once",
    r"is named twice",
    r"required \(or event_id for the default list\)",
    r"give the ticket type \(or session_id\) to wait for",
    # rows that must exist, and their state
    r"no such [\w ]+",
    r"not a ticket of booking",
    r"the ticket is cancelled already",
    r"not a booking reference",
    r"the booking is \w+: only a confirmed booking",
    r"nothing was paid for these items",
    r"this kind of reference has no items",
    r"is not on sale yet",
    r"no tickets of this session are on sale",
    r"unknown voucher code",
    r"the voucher (is not valid yet|has expired|does not apply)",
    r"this voucher is for bookings in",
    r"one booking is paid in one currency",
    r"at (least|most) \d+ of .* per booking",
    r"is sold \d+.\d+ per booking",
    r"must be one of the event's tiers",
    r"only the organizer places people in a tier",
    r"does not match the amount due",
    r"the order is paid in",
    r"at most \d+ (is left to refund|, the price of the items)",
    r"refers to a resource that does not exist",
    # the server's configuration and the organization's settings
    r"offline payments are turned off",
    r"only zero amounts are free",
    r"this organization takes payments through",
    r"this server has no Stripe keys",
    r"the test provider is turned off",
    r"(give|not) a test card number",
    r"API keys must name an organization",
    r"all organizations: platform administrators",
    # rules on a value's content beyond its shape
    r"must not repeat a single character",  # passwords
    # a cursor is a token the server issued (the coverage phase sends one from the pattern)
    r"^cursor: malformed cursor$",
    # lists only the server has, and the clock
    r"must be in the future",
    r"unknown IANA time zone",
    r"ISO 3166-1 alpha-2 country code",
    r"is in the future; check the scanner's clock",
]
_SEMANTIC = re.compile("|".join(f"(?:{r})" for r in SEMANTIC_RULES))


@schemathesis.check
def positive_data_accepted(ctx, response, case):
    meta = case.meta
    if meta is None or not meta.generation.mode.is_positive or response.status_code not in (400, 422):
        return None
    try:
        problem = response.json()
    except Exception:
        problem = {}
    detail = problem.get("detail", "") if isinstance(problem, dict) else ""
    if _SEMANTIC.search(detail):
        return None
    raise AssertionError(
        f"A request valid by the schema was refused with {response.status_code}: {detail or response.text[:300]}\n"
        "Either the OpenAPI description misses this constraint, or it is a rule no schema can state "
        "(then add it to SEMANTIC_RULES in .ci/fuzz/hooks.py)."
    )
