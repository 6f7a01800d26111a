// Progressive enhancement only: every page works without this file.
"use strict";

document.documentElement.classList.add("js");

// The language switch submits itself when a language is picked (its button is for
// browsers without JavaScript).
for (const select of document.querySelectorAll("form.lang select")) {
  select.addEventListener("change", () => select.form.requestSubmit());
}
