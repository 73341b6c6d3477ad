"use strict";
const $ = (id) => document.getElementById(id);
const api = (path, options) => fetch(path, options).then(async (r) => {
  if (!r.ok) throw new Error(`${r.status} ${await r.text()}`);
  return r.json();
});

function person() { return $("person").value.trim(); }
function say(text) { $("status").textContent = text; }

function b64urlToBytes(s) {
  const pad = "=".repeat((4 - (s.length % 4)) % 4);
  const raw = atob((s + pad).replace(/-/g, "+").replace(/_/g, "/"));
  return Uint8Array.from(raw, (c) => c.charCodeAt(0));
}

async function subscribe() {
  if (!person()) return say("Enter your worker id first.");
  if (!("serviceWorker" in navigator) || !("PushManager" in window)) return say("This browser has no Web Push.");
  const reg = await navigator.serviceWorker.register("sw.js", { scope: "./" });
  const { application_server_key } = await api("/api/v1/push/vapid-public-key");
  const sub = await reg.pushManager.subscribe({ userVisibleOnly: true, applicationServerKey: b64urlToBytes(application_server_key) });
  await api(`/api/v1/people/${encodeURIComponent(person())}/push-subscriptions`, {
    method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify(sub.toJSON()),
  });
  say("Push alerts are on for this phone.");
}

async function act(caseId, action) {
  const body = { person_id: person() };
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
    const img = c.snapshot_url && c.snapshot_url.startsWith("http") ? `<img alt="evidence" src="${c.snapshot_url}">` : "";
    el.innerHTML = `${img}
      <div class="meta"><span class="state">${c.state}</span> · case #${c.id} · ${c.kind.replace(/_/g, " ")}</div>
      <div class="meta">${c.camera_id} / ${c.zone_id} · ${c.micro_grid} · standing ${Math.round(c.dwell_s)} s</div>
      <div class="meta">${c.cleared_at ? "camera sees the spot free since " + c.cleared_at : ""}</div>`;
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
  if (!person()) return say("Enter your worker id.");
  localStorage.setItem("person", person());
  render(await api(`/api/v1/people/${encodeURIComponent(person())}/inbox`));
  say(`Cases of ${person()}`);
}

$("person").value = localStorage.getItem("person") || new URLSearchParams(location.search).get("person") || "";
$("load").onclick = () => load().catch((e) => say(e.message));
$("subscribe").onclick = () => subscribe().catch((e) => say(e.message));
if (person()) load().catch((e) => say(e.message));
