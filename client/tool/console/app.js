// The console's pages: shows who is logged in (the front end proper replaces this file).
"use strict";
fetch("/api/session", {credentials: "same-origin"})
  .then(function (r) { return r.json(); })
  .then(function (s) {
    document.getElementById("agency").textContent = s.agency || "";
    document.getElementById("actor").textContent = s.actor || "";
    document.body.dataset.page = "session";
  });
