// Sportello: small progressive enhancement for the pages. No build step, no third-party code;
// every page works without it. Loaded from our own origin (the CSP allows no inline script).
"use strict";

(function () {
  var LIST_KEY = "sportello.list";

  // Live updates (server-sent events): new tickets in a queue view, changes to a ticket.
  var live = document.getElementById("live");
  if (live && live.dataset.feed && window.EventSource) {
    var es = new EventSource(live.dataset.feed);
    es.addEventListener("ticket", function (ev) {
      var t = JSON.parse(ev.data);
      addRow(t);
      live.textContent = live.dataset.label + " " + t.reference + " " + t.title;
      live.hidden = false;
    });
    es.addEventListener("change", function (ev) {
      var c = JSON.parse(ev.data);
      live.textContent = live.dataset.label + " " + c.actor + ". ";
      var a = document.createElement("a");
      a.href = window.location.pathname;
      a.textContent = live.dataset.reload;
      live.appendChild(a);
      live.hidden = false;
    });
  }

  function cell(row, text) {
    var td = document.createElement("td");
    if (text !== undefined) td.textContent = text;
    row.appendChild(td);
    return td;
  }

  function addRow(t) {
    var body = document.querySelector("#ticket-list tbody");
    if (!body || body.querySelector('tr[data-number="' + t.number + '"]')) return;
    var row = document.createElement("tr");
    row.dataset.number = t.number;
    row.className = "fresh";
    var box = document.createElement("input");
    box.type = "checkbox";
    box.name = "ticket";
    box.value = t.number;
    box.setAttribute("aria-label", t.reference);
    cell(row).appendChild(box);
    var a = document.createElement("a");
    a.href = "/tickets/" + t.number;
    a.textContent = t.reference;
    cell(row).appendChild(a);
    cell(row, t.title);
    var st = document.createElement("span");
    st.className = "status status-" + t.status_key;
    st.textContent = t.status;
    cell(row).appendChild(st);
    cell(row, String(t.priority));
    cell(row); // SLA: shown on the next load
    cell(row, t.customer);
    if (t.owner) {
      cell(row, t.owner);
    } else {
      var nobody = document.createElement("span");
      nobody.className = "muted";
      nobody.textContent = (live && live.dataset.nobody) || "";
      cell(row).appendChild(nobody);
    }
    var time = document.createElement("time");
    time.dateTime = t.updated_at;
    time.textContent = t.updated;
    cell(row).appendChild(time);
    body.insertBefore(row, body.firstChild);
    remember();
  }

  // The queue view remembers its order of tickets, for next/previous on the ticket page.
  function remember() {
    var rows = document.querySelectorAll("#ticket-list tbody tr[data-number]");
    if (!rows.length) return;
    var list = [];
    rows.forEach(function (r) { list.push(r.dataset.number); });
    try { sessionStorage.setItem(LIST_KEY, JSON.stringify(list)); } catch (e) { /* private mode */ }
  }
  remember();

  function neighbour(step) {
    var m = window.location.pathname.match(/^\/tickets\/(\d+)$/);
    if (!m) return null;
    var list;
    try { list = JSON.parse(sessionStorage.getItem(LIST_KEY) || "[]"); } catch (e) { return null; }
    var i = list.indexOf(m[1]);
    if (i < 0 || i + step < 0 || i + step >= list.length) return null;
    return "/tickets/" + list[i + step];
  }

  function moveInList(step) {
    var links = Array.prototype.slice.call(document.querySelectorAll("#ticket-list tbody td:nth-child(2) a"));
    if (!links.length) return false;
    var i = links.indexOf(document.activeElement);
    var next = links[Math.max(0, Math.min(links.length - 1, i < 0 ? 0 : i + step))];
    next.focus();
    return true;
  }

  function focusShortcut(key) {
    var el = document.querySelector('[data-shortcut="' + key + '"]');
    if (!el) return false;
    el.focus();
    if (el.scrollIntoView) el.scrollIntoView({ block: "center" });
    return true;
  }

  // SLA countdown badges: the server renders them; once a minute the text and the urgency
  // class follow the due instant in `datetime` (words from data-late and data-units).
  function span(secs, units) {
    var min = Math.floor(secs / 60), d = Math.floor(min / 1440), h = Math.floor((min % 1440) / 60), m = min % 60;
    var u = function (i, n) { return (units[i] || "{}").replace("{}", String(n)); };
    if (d > 0) return h > 0 ? u(0, d) + " " + u(1, h) : u(0, d);
    if (h > 0) return m > 0 ? u(1, h) + " " + u(2, m) : u(1, h);
    return u(2, m);
  }
  function countdown() {
    document.querySelectorAll("time.sla[datetime]").forEach(function (el) {
      var due = Date.parse(el.getAttribute("datetime"));
      if (isNaN(due)) return;
      var left = Math.floor((due - Date.now()) / 1000);
      var text = span(Math.abs(left), (el.dataset.units || "").split("|"));
      el.textContent = left < 0 ? (el.dataset.late || "{}").replace("{}", text) : text;
      el.classList.remove("sla-late", "sla-soon", "sla-fine");
      el.classList.add(left < 0 ? "sla-late" : left <= 3600 ? "sla-soon" : "sla-fine");
    });
  }
  if (document.querySelector("time.sla[datetime]")) window.setInterval(countdown, 60000);

  // Keyboard shortcuts (listed on /help): j/k next/previous ticket, r reply, c comment,
  // / search, ? help. Never while typing in a field.
  document.addEventListener("keydown", function (ev) {
    if (ev.ctrlKey || ev.metaKey || ev.altKey) return;
    var tag = (ev.target && ev.target.tagName) || "";
    if (tag === "INPUT" || tag === "TEXTAREA" || tag === "SELECT" || (ev.target && ev.target.isContentEditable)) {
      if (ev.key === "Escape" && ev.target.blur) ev.target.blur();
      return;
    }
    var done = false;
    switch (ev.key) {
      case "j":
      case "k": {
        var step = ev.key === "j" ? 1 : -1;
        done = moveInList(step);
        if (!done) {
          var to = neighbour(step);
          if (to) { window.location.href = to; done = true; }
        }
        break;
      }
      case "r": done = focusShortcut("r"); break;
      case "c": done = focusShortcut("c"); break;
      case "/":
        done = focusShortcut("/");
        if (!done) { window.location.href = "/tickets"; done = true; }
        break;
      case "?": window.location.href = "/help"; done = true; break;
    }
    if (done) ev.preventDefault();
  });

  // The notice editor's scope picker: territory and element fields suggest codes as the agent
  // types (the server answers territories and elements whose code or name matches).
  var suggestions = document.getElementById("scope-suggestions");
  var timer = null;
  document.querySelectorAll("input[data-lookup]").forEach(function (input) {
    input.addEventListener("input", function () {
      var q = input.value.trim();
      if (timer) clearTimeout(timer);
      if (!suggestions || q.length < 2) return;
      timer = setTimeout(function () {
        fetch("/notices/lookup?q=" + encodeURIComponent(q), { credentials: "same-origin" })
          .then(function (r) { return r.ok ? r.json() : []; })
          .then(function (list) {
            suggestions.textContent = "";
            list.filter(function (s) { return s.what === input.dataset.lookup; }).forEach(function (s) {
              var o = document.createElement("option");
              o.value = s.code;
              o.label = s.label;
              suggestions.appendChild(o);
            });
          })
          .catch(function () {});
      }, 200);
    });
  });
})();
