# Backlines Webseiten auf Deutsch. Jeder Schlüssel aus en.ftl muss hier stehen (ein Test
# prüft das).

site-name = Backline
site-tagline = Livemusik und Veranstaltungen in deiner Nähe
skip-to-content = Zum Inhalt springen
nav-discover = Entdecken
nav-api = API
language-switch = Sprache
footer-text = Backline — die offene Plattform für Livemusik und Veranstaltungen.

datetime = { $weekday }, { $day }. { $month } { $year }, { $time }
date = { $day }. { $month } { $year }
weekday-1 = Mo.
weekday-2 = Di.
weekday-3 = Mi.
weekday-4 = Do.
weekday-5 = Fr.
weekday-6 = Sa.
weekday-7 = So.
month-1 = Jan.
month-2 = Feb.
month-3 = März
month-4 = Apr.
month-5 = Mai
month-6 = Juni
month-7 = Juli
month-8 = Aug.
month-9 = Sept.
month-10 = Okt.
month-11 = Nov.
month-12 = Dez.
decimal-separator = ,
money = { $amount } { $currency }
price-free = Kostenlos

home-title = Kommende Veranstaltungen
search-legend = Veranstaltung finden
search-text = Suche
search-text-hint = Künstler, Veranstaltung oder Stichwort
search-city = Stadt
search-category = Kategorie
search-from = Von
search-to = Bis
search-submit = Suchen
search-reset = Filter zurücksetzen
results-none = Keine kommenden Veranstaltungen gefunden. Versuche es mit weniger Filtern.
results-next = Weitere Veranstaltungen
event-at = im { $venue }, { $city }
event-cancelled = Abgesagt

event-when = Wann
event-where = Wo
event-time-zone = Zeiten in der Zeitzone der Veranstaltung ({ $zone }).
event-performers = Line-up
event-agenda = Programm
event-tickets = Tickets
event-no-tickets = Für diese Veranstaltung sind keine Tickets im Verkauf.
event-add-calendar = Zum Kalender hinzufügen
ticket-left = { $count ->
    [one] Nur noch 1 verfügbar
   *[other] Noch { $count } verfügbar
}
ticket-available = Verfügbar
ticket-sold-out = Ausverkauft
ticket-sold-out-waitlist = Ausverkauft — auf die Warteliste setzen
ticket-not-on-sale = Nicht im Verkauf
ticket-sales-start = Im Verkauf ab { $when }
voucher-legend = Hast du einen Gutschein?
voucher-code = Gutscheincode
voucher-submit = Einlösen
voucher-applied = Gutschein { $code } eingelöst.
voucher-invalid = Dieser Gutscheincode gilt nicht für diese Veranstaltung.

error-title = Etwas ist schiefgelaufen
error-not-found-title = Seite nicht gefunden
error-not-found = Unter dieser Adresse gibt es nichts. Vielleicht wurde sie verschoben, oder die Veranstaltung ist nicht mehr veröffentlicht.
error-forbidden-title = Nicht erlaubt
error-forbidden = Dein Konto darf diese Seite nicht öffnen.
error-bad-request = Die Anfrage war nicht verständlich: { $detail }
error-internal = Bei uns ist etwas schiefgelaufen. Wenn es wieder passiert, nenne diese Anfrage-ID: { $request_id }
error-home = Zurück zu den kommenden Veranstaltungen
