// Refreshes each part of the page marked data-live with the HTML the server renders for it (where
// every value is escaped by the templates), every data-every seconds. No data is ever put into the page
// from here, and no handler is built from data: this script only swaps server-made fragments.
"use strict";

function live(el) {
  const url = el.dataset.live;
  const every = Math.max(1, Number(el.dataset.every) || 2) * 1000;
  const status = document.getElementById("refresh");
  async function refresh() {
    try {
      const r = await fetch(url, { credentials: "same-origin", headers: { Accept: "text/html" }, cache: "no-store" });
      if (r.status === 401 || r.status === 403) {
        window.location.assign("/login");
        return;
      }
      if (!r.ok) throw new Error(`HTTP ${r.status}`);
      const t = document.createElement("template");
      t.innerHTML = await r.text();
      el.replaceChildren(t.content);
      if (status) {
        status.dataset.state = "ok";
        status.textContent = `read-only · updated ${new Date().toLocaleTimeString()}`;
      }
    } catch (e) {
      if (status) {
        status.dataset.state = "stale";
        status.textContent = `cannot reach 0xl (${e.message}); retrying`;
      }
    } finally {
      setTimeout(refresh, every);
    }
  }
  setTimeout(refresh, every);
}

document.querySelectorAll("[data-live]").forEach(live);
