# Backline's web pages in English. Every key here must exist in every other file of this
# folder (a test checks it); translations may reorder placeables freely.

site-name = Backline
site-tagline = Live music and events near you
skip-to-content = Skip to content
nav-discover = Discover
nav-api = API
language-switch = Language
footer-text = Backline — the open platform for live music and events.

# Dates: names and order. Weekdays run Monday (1) to Sunday (7).
datetime = { $weekday }, { $day } { $month } { $year }, { $time }
date = { $day } { $month } { $year }
weekday-1 = Mon
weekday-2 = Tue
weekday-3 = Wed
weekday-4 = Thu
weekday-5 = Fri
weekday-6 = Sat
weekday-7 = Sun
month-1 = Jan
month-2 = Feb
month-3 = Mar
month-4 = Apr
month-5 = May
month-6 = Jun
month-7 = Jul
month-8 = Aug
month-9 = Sep
month-10 = Oct
month-11 = Nov
month-12 = Dec
decimal-separator = .
money = { $amount } { $currency }
price-free = Free

# Discover
home-title = Upcoming events
search-legend = Find an event
search-text = Search
search-text-hint = Artist, event or keyword
search-city = City
search-category = Category
search-from = From
search-to = To
search-submit = Search
search-reset = Clear filters
results-none = No upcoming events match. Try fewer filters.
results-next = More events
event-at = at { $venue }, { $city }
event-cancelled = Cancelled

# Event page
event-when = When
event-where = Where
event-time-zone = Times are in the event's time zone ({ $zone }).
event-performers = Line-up
event-agenda = Programme
event-tickets = Tickets
event-no-tickets = No tickets are on sale for this event.
event-add-calendar = Add to calendar
ticket-left = { $count ->
    [one] Only 1 left
   *[other] { $count } left
}
ticket-available = Available
ticket-sold-out = Sold out
ticket-sold-out-waitlist = Sold out — join the waitlist
ticket-not-on-sale = Not on sale
ticket-sales-start = On sale from { $when }
voucher-legend = Have a voucher?
voucher-code = Voucher code
voucher-submit = Apply
voucher-applied = Voucher { $code } applied.
voucher-invalid = That voucher code is not valid for this event.

# Errors
error-title = Something went wrong
error-not-found-title = Page not found
error-not-found = There is nothing at this address. It may have moved, or the event may no longer be published.
error-forbidden-title = Not allowed
error-forbidden = Your account may not open this page.
error-bad-request = The request could not be understood: { $detail }
error-internal = Something went wrong on our side. If it keeps happening, quote this request id: { $request_id }
error-home = Back to upcoming events
