// Progressive enhancement only: every page works without this file.
"use strict";

document.documentElement.classList.add("js");

// The language switch submits itself when a language is picked (its button is for
// browsers without JavaScript).
for (const select of document.querySelectorAll("form.lang select")) {
  select.addEventListener("change", () => select.form.requestSubmit());
}

// A held booking counts down to its expiry (without JavaScript the page says the time). The
// timer sits outside the live region: a screen reader is told once when the hold runs out,
// not every second.
for (const el of document.querySelectorAll(".countdown[data-until]")) {
  const until = Date.parse(el.dataset.until);
  const timer = el.closest(".hold-timer");
  const expired = document.getElementById("hold-expired");
  const tick = () => {
    const left = Math.max(0, Math.round((until - Date.now()) / 1000));
    if (left === 0) {
      if (timer) timer.hidden = true;
      if (expired) expired.hidden = false;
      return;
    }
    const m = Math.floor(left / 60);
    const s = String(left % 60).padStart(2, "0");
    el.textContent = `${m}:${s}`;
    setTimeout(tick, 1000);
  };
  if (!Number.isNaN(until)) {
    if (timer) timer.hidden = false;
    tick();
  }
}

// A form that books or pays is sent once: a second click while the first is on its way
// would only be answered from the idempotency store anyway.
for (const form of document.querySelectorAll("form[method=post]")) {
  form.addEventListener("submit", () => {
    for (const b of form.querySelectorAll("button[type=submit]")) b.disabled = true;
  });
}
