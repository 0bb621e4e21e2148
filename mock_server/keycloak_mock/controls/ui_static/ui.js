// The page's script: reads and changes the mock only through its control API (/_mock).
// Plain DOM, text only (never innerHTML): names in the log come from whoever called the mock.
"use strict";

(() => {
  const API = document.body.dataset.api;
  const POLL_MS = 2000;
  const REALMS_EVERY = 5; // polls between realm/key refreshes: they change only on command
  const LOG_ROWS = 50;
  const TOKEN_KEY = "keycloak-mock-admin-token";

  let adminToken = sessionStorage.getItem(TOKEN_KEY) || "";
  let clock = { now: 0, frozen: false, seenAt: 0 };
  let sessions = [];
  let realms = [];
  let polls = 0;
  let timer = null;
  let locked = false;

  const $ = (id) => document.getElementById(id);

  class ApiError extends Error {
    constructor(status, message) {
      super(message);
      this.status = status;
    }
  }

  async function call(method, path, body) {
    const headers = {};
    if (body !== undefined) headers["Content-Type"] = "application/json";
    if (adminToken) headers.Authorization = "Bearer " + adminToken;
    const response = await fetch(API + path, {
      method,
      headers,
      body: body === undefined ? undefined : JSON.stringify(body),
      cache: "no-store",
      credentials: "omit",
    });
    let document_ = null;
    try {
      document_ = await response.json();
    } catch (ignored) {
      document_ = null;
    }
    if (response.status === 401) {
      askForToken();
      throw new ApiError(401, "the control API needs the admin token");
    }
    if (!response.ok) {
      const message = document_ && (document_.error_description || document_.error);
      throw new ApiError(response.status, message || "HTTP " + response.status);
    }
    return document_;
  }

  function say(message, isError) {
    const status = $("status");
    status.textContent = message;
    status.classList.toggle("error", Boolean(isError));
  }

  function askForToken() {
    locked = true;
    $("token-form").hidden = false;
    $("poll-state").textContent = "waiting for the admin token";
  }

  // -- the mock's clock ---------------------------------------------------------------------
  function mockNow() {
    return clock.frozen ? clock.now : clock.now + (performance.now() - clock.seenAt) / 1000;
  }

  function setClock(time) {
    clock = { now: time.now, frozen: time.frozen, seenAt: performance.now() };
  }

  function stamp(seconds) {
    if (seconds === null || seconds === undefined) return "–";
    return new Date(seconds * 1000).toISOString().replace("T", " ").replace(/\.\d+Z$/, "Z");
  }

  // Rows show the time of day (UTC); the full instant is in the cell's title.
  function timeCell(seconds) {
    const full = stamp(seconds);
    return element("td", full.slice(11), { class: "num", title: full });
  }

  function countdown(until) {
    if (until === null || until === undefined) return "–";
    const left = Math.floor(until - mockNow());
    if (left <= 0) return "expired";
    const minutes = Math.floor(left / 60);
    return minutes > 0 ? `${minutes} min ${left % 60} s` : `${left} s`;
  }

  function tick() {
    $("clock").textContent = clock.now ? stamp(Math.floor(mockNow())) : "…";
    $("clock-state").textContent = clock.frozen ? "(frozen)" : "";
    for (const cell of document.querySelectorAll("[data-until]")) {
      const text = countdown(Number(cell.dataset.until));
      cell.textContent = text;
      cell.classList.toggle("expired", text === "expired");
    }
  }

  // -- rendering ----------------------------------------------------------------------------
  function element(tag, text, attributes) {
    const node = document.createElement(tag);
    if (text !== undefined && text !== null) node.textContent = String(text);
    for (const [name, value] of Object.entries(attributes || {})) node.setAttribute(name, value);
    return node;
  }

  function row(cells) {
    const tr = document.createElement("tr");
    for (const cell of cells) tr.append(cell instanceof Node ? cell : element("td", cell));
    return tr;
  }

  function selectedRealm() {
    return $("realm-filter").value || null;
  }

  function renderSessions() {
    const realm = selectedRealm();
    const shown = sessions.filter((s) => !realm || s.realm === realm);
    const rows = shown.map((s) => {
      const end = element("button", "End session", {
        type: "button",
        "aria-label": `End the session of ${s.username || s.userId}`,
      });
      end.addEventListener("click", () => act(`Session of ${s.username} ended`, () =>
        call("DELETE", `/sessions/${encodeURIComponent(s.id)}`)));
      const actions = element("td");
      actions.append(end);
      return row([
        s.username || s.userId,
        s.realm,
        s.clients.join(", "),
        timeCell(s.started),
        timeCell(s.lastRefresh),
        element("td", "", { class: "num", "data-until": s.accessExpires ?? "" }),
        element("td", "", { class: "num", "data-until": s.expires ?? "" }),
        actions,
      ]);
    });
    $("session-rows").replaceChildren(...rows);
    $("no-sessions").hidden = shown.length > 0;
    tick();
  }

  function renderRequests(records) {
    const rows = records.slice().reverse().map((r) => row([
      timeCell(Math.floor(r.at)),
      r.method,
      r.path,
      element("td", r.status ?? "dropped", { class: "num" }),
      r.grantType ?? "",
      r.clientId ?? "",
      r.username ?? "",
      element("td", r.duration === null || r.duration === undefined
        ? "" : `${(r.duration * 1000).toFixed(1)} ms`, { class: "num" }),
      r.fault ?? "",
    ]));
    $("request-rows").replaceChildren(...rows);
  }

  function renderFaults(listing) {
    const faults = listing.faults || [];
    const parts = faults.map((f) => {
      const what = f.status ? `status ${f.status}` : f.drop ? "drop" : `delay ${f.delay} s`;
      const left = f.times === null || f.times === undefined ? "until cleared" : `${f.times} left`;
      return `${f.endpoint}: ${what} (${left})`;
    });
    if (listing.errorRate) parts.push(`error rate ${listing.errorRate.rate}`);
    $("faults").textContent = parts.length ? "Armed: " + parts.join("; ") : "No fault armed.";
  }

  function renderRealms(keys) {
    const filter = $("realm-filter");
    const chosen = filter.value;
    const options = [element("option", "every realm", { value: "" })];
    for (const realm of realms) options.push(element("option", realm.realm, { value: realm.realm }));
    filter.replaceChildren(...options);
    filter.value = realms.some((r) => r.realm === chosen) ? chosen : "";

    const details = [];
    for (const realm of realms) {
      if (chosen && realm.realm !== chosen) continue;
      const box = element("div", null, { class: "realm" });
      box.append(element("h3", `${realm.realm}${realm.enabled ? "" : " (disabled)"}`));
      box.append(element("p",
        `Access token ${realm.accessTokenLifespan} s · SSO idle ${realm.ssoSessionIdleTimeout} s` +
        ` · SSO max ${realm.ssoSessionMaxLifespan} s`, { class: "muted" }));
      const clients = element("table");
      clients.append(element("caption", "Clients", { class: "visually-hidden" }));
      clients.append(row(["Client", "Type", "Grants", "Web origins"].map((t) => element("th", t, { scope: "col" }))));
      for (const c of realm.clientDetails || []) {
        clients.append(row([`${c.clientId}${c.enabled ? "" : " (disabled)"}`, c.type,
          c.grants.join(", ") || "none", c.webOrigins.join(", ") || "–"]));
      }
      box.append(clients);
      const users = element("table", null, { "data-realm": realm.realm });
      users.append(element("caption", "Users", { class: "visually-hidden" }));
      users.append(row(["User", "Enabled", "Required actions"].map((t) => element("th", t, { scope: "col" }))));
      box.append(users);
      details.push(box);
    }
    $("realm-details").replaceChildren(...details);
    $("keys").replaceChildren(...keys.map((k) =>
      element("li", `${k.kid} (RS256${k.active ? ", active" : ""})`)));
  }

  async function loadUsers() {
    const realm = selectedRealm() || (realms[0] && realms[0].realm);
    const choice = $("user-choice");
    const previous = choice.value;
    const tables = document.querySelectorAll("table[data-realm]");
    const lists = await Promise.all([...tables].map((t) =>
      call("GET", `/realms/${encodeURIComponent(t.dataset.realm)}/users`)));
    tables.forEach((table, index) => {
      while (table.rows.length > 1) table.deleteRow(1);
      for (const u of lists[index].users) {
        table.append(row([u.username, u.enabled ? "yes" : "no", u.requiredActions.join(", ") || "–"]));
      }
    });
    const own = [...tables].findIndex((t) => t.dataset.realm === realm);
    const names = own >= 0 ? lists[own].users.map((u) => u.username) : [];
    choice.replaceChildren(...names.map((n) => element("option", n, { value: n })));
    if (names.includes(previous)) choice.value = previous;
  }

  // -- polling ------------------------------------------------------------------------------
  async function refresh(everything) {
    if (locked) return;
    const realm = selectedRealm();
    const logQuery = new URLSearchParams({ limit: String(LOG_ROWS) });
    if (realm) logQuery.set("realm", realm);
    const [time, sessionList, log, faults] = await Promise.all([
      call("GET", "/time"),
      call("GET", "/sessions"),
      call("GET", "/requests?" + logQuery.toString()),
      call("GET", "/faults"),
    ]);
    setClock(time);
    sessions = sessionList.sessions;
    renderSessions();
    renderRequests(log.requests);
    renderFaults(faults);
    if (everything || polls % REALMS_EVERY === 0) {
      const [realmList, keys, overview] = await Promise.all([
        call("GET", "/realms"), call("GET", "/keys"), call("GET", ""),
      ]);
      realms = realmList.realms;
      renderRealms(keys.keys);
      renderEndpoints(overview.endpoints);
      await loadUsers();
    }
    polls += 1;
    $("poll-state").textContent = `updated every ${POLL_MS / 1000} s`;
  }

  function renderEndpoints(endpoints) {
    const select = $("fault-endpoint");
    if (select.options.length > 1) return;
    select.replaceChildren(...endpoints.map((e) => element("option", e, { value: e })));
    select.value = endpoints.includes("token") ? "token" : endpoints[0];
  }

  async function poll() {
    timer = null;
    try {
      await refresh(false);
    } catch (error) {
      if (!(error instanceof ApiError && error.status === 401)) say(String(error.message), true);
    }
    schedule();
  }

  function schedule() {
    if (timer === null && !document.hidden && !locked) timer = setTimeout(poll, POLL_MS);
  }

  document.addEventListener("visibilitychange", () => {
    if (document.hidden) {
      clearTimeout(timer);
      timer = null;
      $("poll-state").textContent = "paused while hidden";
    } else {
      poll();
    }
  });

  // -- actions ------------------------------------------------------------------------------
  async function act(done, operation) {
    try {
      await operation();
      say(done, false);
    } catch (error) {
      say(String(error.message), true);
    }
    try {
      await refresh(true);
    } catch (ignored) {
      // the next poll reports it
    }
  }

  function realmBody() {
    return { realm: selectedRealm() };
  }

  function userRealm() {
    return selectedRealm() || (realms[0] && realms[0].realm);
  }

  function bind(id, done, operation) {
    $(id).addEventListener("click", () => act(done(), operation));
  }

  bind("advance", () => `Clock advanced by ${$("advance-seconds").value} s`,
    () => call("POST", "/time/advance", { seconds: Number($("advance-seconds").value) }));
  bind("freeze", () => "Clock frozen", () => call("POST", "/time/freeze", {}));
  bind("unfreeze", () => "Clock running", () => call("POST", "/time/unfreeze", {}));
  bind("expire-access", () => "Access tokens expired",
    () => call("POST", "/time/expire-access-tokens", realmBody()));
  bind("expire-sessions", () => "Sessions expired",
    () => call("POST", "/time/expire-sessions", realmBody()));
  bind("add-fault", () => "Fault scripted", () => {
    const fault = {
      endpoint: $("fault-endpoint").value,
      times: Number($("fault-times").value),
      realm: selectedRealm(),
    };
    const status = $("fault-status").value;
    const delay = Number($("fault-delay").value);
    if (status) fault.status = Number(status);
    if (delay > 0) fault.delay = delay;
    return call("POST", "/faults", fault);
  });
  bind("clear-faults", () => "Faults cleared", () => call("DELETE", "/faults"));
  bind("add-user", () => `User ${$("new-username").value} added`, () => call(
    "POST", `/realms/${encodeURIComponent(userRealm())}/users`, {
      username: $("new-username").value,
      enabled: true,
      credentials: [{ type: "password", value: $("new-password").value, temporary: false }],
    }).then(() => {
    $("new-password").value = "";
  }));
  bind("disable-user", () => `User ${$("user-choice").value} disabled`, () => call(
    "PATCH", `/realms/${encodeURIComponent(userRealm())}/users/${encodeURIComponent($("user-choice").value)}`,
    { enabled: false }));
  bind("enable-user", () => `User ${$("user-choice").value} enabled`, () => call(
    "PATCH", `/realms/${encodeURIComponent(userRealm())}/users/${encodeURIComponent($("user-choice").value)}`,
    { enabled: true }));
  bind("reset", () => "Mock reset", () => call("POST", "/reset"));

  // Enter in a field must not submit the form: everything goes through the control API.
  $("user-form").addEventListener("submit", (event) => event.preventDefault());

  $("realm-filter").addEventListener("change", () => act("", () => Promise.resolve()));

  $("decode").addEventListener("click", async () => {
    const verdict = $("verdict");
    verdict.className = "";
    try {
      const result = await call("POST", "/tokens/inspect", { token: $("token-input").value });
      $("token-header").textContent = JSON.stringify(result.header, null, 2);
      $("token-claims").textContent = JSON.stringify(result.claims, null, 2);
      const kind = result.kind ? `${result.kind} token` : "token";
      if (result.accepted) {
        verdict.textContent = `Accepted: a live ${kind} of realm ${result.realm}`;
        verdict.className = "accepted";
      } else {
        verdict.textContent = `Refused (${kind}): ${result.reason}`;
        verdict.className = "refused";
      }
    } catch (error) {
      verdict.textContent = String(error.message);
      verdict.className = "refused";
    }
  });

  $("token-form").addEventListener("submit", (event) => {
    event.preventDefault();
    adminToken = $("admin-token").value.trim();
    sessionStorage.setItem(TOKEN_KEY, adminToken);
    $("admin-token").value = "";
    $("token-form").hidden = true;
    locked = false;
    say("Admin token set", false);
    poll();
  });

  setInterval(tick, 1000);
  refresh(true).catch((error) => {
    if (!(error instanceof ApiError && error.status === 401)) say(String(error.message), true);
  }).finally(schedule);
})();
