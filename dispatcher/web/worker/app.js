"use strict";
// The worker's phone page: log in, see own cases, accept and report them handled.
// The session token lives in localStorage; `#token=...` in the URL (the demo prints such a
// link) logs in without a password.
const $ = (id) => document.getElementById(id);

function token() { return localStorage.getItem("token") || ""; }
function me() { return JSON.parse(localStorage.getItem("me") || "null"); }
function say(text) { $("status").textContent = text; }

async function api(path, options = {}) {
  const headers = { ...(options.headers || {}) };
  if (token()) headers.authorization = `Bearer ${token()}`;
  const r = await fetch(path, { ...options, headers });
  if (r.status === 401) { forget(); throw new Error("Please log in again."); }
  if (!r.ok) throw new Error(`${r.status} ${await r.text()}`);
  return r.status === 204 ? null : r.json();
}

function forget() {
  localStorage.removeItem("token");
  localStorage.removeItem("me");
  show();
}

function show() {
  const user = me();
  $("login").hidden = Boolean(user);
  $("session").hidden = !user;
  $("who").textContent = user ? `${user.person_id} (${user.role})` : "";
  if (!user) $("cases").replaceChildren();
}

async function adopt(newToken) {
  localStorage.setItem("token", newToken);
  localStorage.setItem("me", JSON.stringify(await api("/api/v1/auth/me")));
  show();
  await load();
}

async function login(event) {
  event.preventDefault();
  const body = { person_id: $("person").value.trim(), password: $("password").value };
  const r = await fetch("/api/v1/auth/login", {
    method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify(body),
  });
  if (!r.ok) return say(r.status === 429 ? "Too many tries; wait a few minutes." : "Wrong id or password.");
  $("password").value = "";
  await adopt((await r.json()).token);
}

function b64urlToBytes(s) {
  const pad = "=".repeat((4 - (s.length % 4)) % 4);
  const raw = atob((s + pad).replace(/-/g, "+").replace(/_/g, "/"));
  return Uint8Array.from(raw, (c) => c.charCodeAt(0));
}

async function subscribe() {
  if (!("serviceWorker" in navigator) || !("PushManager" in window)) return say("This browser has no Web Push.");
  const reg = await navigator.serviceWorker.register("sw.js", { scope: "./" });
  const { application_server_key } = await api("/api/v1/push/vapid-public-key");
  const sub = await reg.pushManager.subscribe({ userVisibleOnly: true, applicationServerKey: b64urlToBytes(application_server_key) });
  await api(`/api/v1/people/${encodeURIComponent(me().person_id)}/push-subscriptions`, {
    method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify(sub.toJSON()),
  });
  say("Push alerts are on for this phone.");
}

async function act(caseId, action) {
  const body = {};
  if (action === "resolve") body.note = prompt("What was done?") || null;
  await api(`/api/v1/cases/${caseId}/${action}`, {
    method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify(body),
  });
  await load();
}

function render(items) {
  const box = $("cases");
  box.replaceChildren();
  if (!items.length) { box.textContent = "No cases."; return; }
  for (const { case: c } of items) {
    const el = document.createElement("div");
    el.className = "case";
    el.dataset.caseId = c.id;
    if (c.snapshot_url && c.snapshot_url.startsWith("http")) {
      const img = document.createElement("img");
      img.alt = "evidence";
      img.src = c.snapshot_url;
      el.append(img);
    }
    for (const text of [
      `${c.state} · case #${c.id} · ${c.kind.replace(/_/g, " ")}`,
      `${c.camera_id} / ${c.zone_id} · ${c.micro_grid} · standing ${Math.round(c.dwell_s)} s`,
      c.cleared_at ? `camera sees the spot free since ${c.cleared_at}` : "",
    ]) {
      const meta = document.createElement("div");
      meta.className = "meta";
      meta.textContent = text;
      el.append(meta);
    }
    const row = document.createElement("div");
    row.className = "row";
    if (c.state === "dispatched") row.append(button("Accept", () => act(c.id, "acknowledge")));
    if (c.state === "accepted" || c.state === "rework") row.append(button("Mark handled", () => act(c.id, "resolve")));
    el.append(row);
    box.append(el);
  }
}

function button(label, onClick) {
  const b = document.createElement("button");
  b.textContent = label;
  b.onclick = () => onClick().catch((e) => say(e.message));
  return b;
}

async function load() {
  const user = me();
  if (!user) return;
  render(await api(`/api/v1/people/${encodeURIComponent(user.person_id)}/inbox`));
  say(`Cases of ${user.person_id}`);
}

$("login").onsubmit = (e) => login(e).catch((err) => say(err.message));
$("load").onclick = () => load().catch((e) => say(e.message));
$("subscribe").onclick = () => subscribe().catch((e) => say(e.message));
$("logout").onclick = () => api("/api/v1/auth/logout", { method: "POST" }).finally(forget);
const fromLink = new URLSearchParams(location.hash.slice(1)).get("token");
if (fromLink) {
  history.replaceState(null, "", location.pathname);
  adopt(fromLink).catch((e) => say(e.message));
} else {
  show();
  load().catch((e) => say(e.message));
}
