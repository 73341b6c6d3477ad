// The worker's phone page: log in, see own cases, accept them, ask the leader, report them
// handled with an after photo; actions queue on the phone until the server has them.
// The session token lives in localStorage; `#token=...` in the URL (the demo prints such a
// link) logs in without a password.
import { age, kindName, loadWords, localTime, t, term, words } from "../shared/words.js";

const $ = (id) => document.getElementById(id);

function token() { return localStorage.getItem("token") || ""; }
function me() { return JSON.parse(localStorage.getItem("me") || "null"); }
function say(text) { $("status").textContent = text; }

class HttpError extends Error {
  constructor(status, text) { super(`${status} ${text}`); this.status = status; }
}

async function api(path, options = {}) {
  const headers = { ...(options.headers || {}), "accept-language": words.locale };
  if (token()) headers.authorization = `Bearer ${token()}`;
  const r = await fetch(path, { ...options, headers }); // a TypeError when there is no network
  if (r.status === 401) { forget(); throw new HttpError(401, t("Please log in again.")); }
  if (!r.ok) throw new HttpError(r.status, (await r.json().catch(() => ({}))).detail || r.statusText);
  return r.status === 204 ? null : r.json();
}

// Actions wait in a queue in IndexedDB until the server took them: a phone in a lane with no
// signal keeps what the worker did (photos too: localStorage holds a few megabytes of text at
// most) and sends it, in order, when the network is back, even after the app was closed.
const DB = "gridpatrol", STORE = "queue";

function database() {
  return new Promise((resolve, reject) => {
    const opening = indexedDB.open(DB, 1);
    opening.onupgradeneeded = () => opening.result.createObjectStore(STORE, { keyPath: "id", autoIncrement: true });
    opening.onsuccess = () => resolve(opening.result);
    opening.onerror = () => reject(opening.error);
  });
}

async function inStore(mode, work) {
  const db = await database();
  return new Promise((resolve, reject) => {
    const tx = db.transaction(STORE, mode);
    const result = work(tx.objectStore(STORE));
    tx.oncomplete = () => { db.close(); resolve(result.result); };
    tx.onerror = () => { db.close(); reject(tx.error); };
  });
}

/** The waiting actions, oldest first, each with its key. */
async function queued() {
  const items = await inStore("readonly", (store) => store.getAll());
  $("queue").textContent = items.length ? t("{count} action(s) not sent yet", { count: items.length }) : "";
  return items;
}

const keep = (item) => inStore("readwrite", (store) => store.add(item));
const done = (id) => inStore("readwrite", (store) => store.delete(id));

async function fromLocalStorage() { // what an older page left in localStorage moves over once
  const old = JSON.parse(localStorage.getItem("queue") || "[]");
  for (const item of old) await keep(item);
  localStorage.removeItem("queue");
}

async function sha256hex(bytes) {
  const digest = await crypto.subtle.digest("SHA-256", bytes);
  return [...new Uint8Array(digest)].map((b) => b.toString(16).padStart(2, "0")).join("");
}

async function upload(dataUrl) {
  const bytes = Uint8Array.from(atob(dataUrl.split(",")[1]), (c) => c.charCodeAt(0));
  const digest = await sha256hex(bytes);
  await api(`/api/v1/evidence/${digest}.jpg`, { method: "PUT", headers: { "content-type": "image/jpeg" }, body: bytes });
  return digest;
}

async function perform(item) {
  if (item.report) { // a patrol report: its photo, then the case
    const body = { ...item.report, photo_sha256: await upload(item.photo) };
    await api("/api/v1/reports", { method: "POST", headers: { "content-type": "application/json" },
                                   body: JSON.stringify(body) });
    return;
  }
  const data = { ...(item.data || {}) };
  if (item.photo) data[item.photoField || "after_photo_sha256"] = await upload(item.photo);
  await api(`/api/v1/cases/${item.caseId}/actions/${item.action}`, {
    method: "POST", headers: { "content-type": "application/json" },
    body: JSON.stringify({ reason: item.reason || null, data }),
  });
}

let flushing = false;
async function flush() {
  if (flushing || !token()) return;
  flushing = true;
  try {
    for (let items = await queued(); items.length; items = await queued()) {
      const item = items[0];
      try {
        await perform(item);
        say(item.report ? t("Patrol report sent.")
          : t("Case #{id}: {action} sent.", { id: item.caseId, action: term("action", item.action) }));
      } catch (e) {
        if (!(e instanceof HttpError) || e.status >= 500) { // no network, or the server is down: later
          say(t("No connection: your action is kept and sent when the network is back."));
          return;
        }
        say(item.report ? t("The patrol report was refused ({why}).", { why: e.message })
          : t("Case #{id}: {action} was refused ({why}).", { id: item.caseId, action: term("action", item.action), why: e.message }));
      }
      await done(item.id);
    }
    await load();
  } finally {
    flushing = false;
  }
}

async function enqueue(item) {
  await keep(item);
  await queued();
  return flush();
}

async function photo(file) {
  // as a JPEG of at most 1280 px: small enough to queue on the phone, and a format the
  // dispatcher keeps (phones may take HEIC)
  const bitmap = await createImageBitmap(file);
  const scale = Math.min(1, 1280 / Math.max(bitmap.width, bitmap.height));
  const canvas = document.createElement("canvas");
  canvas.width = Math.round(bitmap.width * scale);
  canvas.height = Math.round(bitmap.height * scale);
  canvas.getContext("2d").drawImage(bitmap, 0, 0, canvas.width, canvas.height);
  return canvas.toDataURL("image/jpeg", 0.8);
}

function forget() {
  localStorage.removeItem("token");
  localStorage.removeItem("me");
  if (window.caches) { // the last person's cases leave this phone with them
    caches.open("gridpatrol-shell-v1").then((cache) => cache.keys().then((requests) => Promise.all(
      requests.filter((r) => new URL(r.url).pathname.startsWith("/api/")).map((r) => cache.delete(r))))).catch(() => null);
  }
  show();
}

function show() {
  const user = me();
  $("login").hidden = Boolean(user);
  $("session").hidden = !user;
  $("who").textContent = user ? `${user.person_id} (${term("role", user.role)})` : "";
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
  if (!r.ok) return say(r.status === 429 ? t("Too many tries; wait a few minutes.") : t("Wrong id or password."));
  $("password").value = "";
  await adopt((await r.json()).token);
}

function b64urlToBytes(s) {
  const pad = "=".repeat((4 - (s.length % 4)) % 4);
  const raw = atob((s + pad).replace(/-/g, "+").replace(/_/g, "/"));
  return Uint8Array.from(raw, (c) => c.charCodeAt(0));
}

async function subscribe() {
  if (!("serviceWorker" in navigator) || !("PushManager" in window)) return say(t("This browser has no Web Push."));
  const reg = await navigator.serviceWorker.register("sw.js", { scope: "./" });
  const { application_server_key } = await api("/api/v1/push/vapid-public-key");
  const sub = await reg.pushManager.subscribe({ userVisibleOnly: true, applicationServerKey: b64urlToBytes(application_server_key) });
  await api(`/api/v1/people/${encodeURIComponent(me().person_id)}/push-subscriptions`, {
    method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify(sub.toJSON()),
  });
  say(t("Push alerts are on for this phone."));
}

function handleForm(c) {
  const form = document.createElement("form");
  form.className = "handle";
  const note = document.createElement("input");
  note.placeholder = t("what was done");
  note.name = "note";
  const file = document.createElement("input");
  file.type = "file";
  file.accept = "image/*";
  file.capture = "environment";
  file.name = "photo";
  const send = document.createElement("button");
  send.type = "submit";
  send.textContent = t("Send: handled");
  form.append(note, file, send);
  form.onsubmit = async (event) => {
    event.preventDefault();
    if (!file.files.length) return say(t("Take a photo of the spot as it is now."));
    send.disabled = true;
    await enqueue({ caseId: c.id, action: "handle", reason: note.value || null, photo: await photo(file.files[0]) });
  };
  return form;
}

function render(items) {
  const box = $("cases");
  box.replaceChildren();
  if (!items.length) { box.textContent = t("No cases."); return; }
  for (const { case: c } of items) {
    const el = document.createElement("div");
    el.className = "case";
    el.dataset.caseId = c.id;
    if (c.snapshot_url && c.snapshot_url.startsWith("http")) {
      const img = document.createElement("img");
      img.alt = t("snapshot");
      img.src = c.snapshot_url;
      img.onerror = () => img.replaceWith(Object.assign(document.createElement("div"),
        { className: "meta", textContent: t("image unavailable") })); // pruned or never uploaded: no broken icon
      el.append(img);
    }
    if (c.after_photo_url && c.after_photo_url.startsWith("http")) {
      const after = document.createElement("img");
      after.alt = t("after (worker)");
      after.className = "after";
      after.src = c.after_photo_url;
      el.append(after);
    }
    for (const text of [
      `${term("state", c.state)} · ${t("Case #{id}", { id: c.id })} · ${kindName(c.kind, c.event_code)}`,
      `${c.camera_id} / ${c.zone_id} · ${c.micro_grid} · ${t("opened")} ${localTime(c.opened_at)} (${age(c.opened_at)})`,
      c.handle_due_at && !["handled", "verified", "rated", "closed", "void"].includes(c.state)
        ? t("handle by {time}", { time: localTime(c.handle_due_at) }) : "",
      c.cleared_at ? t("camera sees the spot free since {time}", { time: localTime(c.cleared_at) }) : "",
    ]) {
      const meta = document.createElement("div");
      meta.className = "meta";
      meta.textContent = text;
      el.append(meta);
    }
    const row = document.createElement("div");
    row.className = "row";
    if (c.lat !== null && c.lon !== null && c.lat !== undefined) {
      const pin = document.createElement("a");
      pin.href = `geo:${c.lat},${c.lon}?q=${c.lat},${c.lon}(${encodeURIComponent(t("Case #{id}", { id: c.id }))})`;
      const navigate = t("navigate");
      pin.textContent = `📍 ${c.lat.toFixed(5)}, ${c.lon.toFixed(5)} (${navigate})`;
      row.append(pin);
    }
    for (const b of actionButtons(c, el)) row.append(b);
    el.append(row);
    if (c.state === "handled" && me().role === "leader") el.append(verifyForm(c));
    if (c.state === "consult") el.append(consultation(c));
    if (mayHandle(c)) el.append(handleForm(c));
    box.append(el);
  }
}

const LEADS = ["leader", "department"]; // the lifecycle lets a line department act as a leader does
const OPEN_WORK = ["dispatched", "accepted", "rework", "consult"];

/** The person's part in the case: the one who must act now, or the leader of its micro-grid. */
function mine(c) {
  const user = me();
  return user && (c.assignee_id === user.person_id || c.worker_id === user.person_id);
}

function mayHandle(c) {
  return mine(c) && (c.state === "accepted" || c.state === "rework");
}

/** What this person may do with the case now, by their role and its state (dispatcher/lifecycle.py). */
function actionButtons(c, card) {
  const role = me().role, out = [];
  const ask = (action, question, extra = {}) => async () => {
    const reason = prompt(question);
    if (reason) await enqueue({ caseId: c.id, action, reason, data: extra });
  };
  if (c.state === "dispatched" && mine(c)) {
    out.push(button(term("action", "accept"), () => enqueue({ caseId: c.id, action: "accept" })));
  }
  if (["dispatched", "accepted"].includes(c.state) && mine(c) && role === "worker") {
    out.push(button(term("action", "return"), ask("return", t("Why is it not your micro-grid's?")), "secondary"));
  }
  if ((c.state === "accepted" || c.state === "rework") && mine(c) && role === "worker") {
    out.push(button(t("Ask the leader"), ask("consult", t("What do you need help with?"))));
  }
  if (role !== "leader") return out; // the micro-grid's leader decides; a line department acts on what it is handed
  if (c.state === "consult") out.push(button(term("action", "resume"), () => enqueue({ caseId: c.id, action: "resume" })));
  if (c.state === "handled") {
    out.push(button(term("action", "reject"), ask("reject", t("What is still wrong?")), "secondary"));
  }
  if (c.state === "verified") out.push(button(t("Invite residents to rate"), () => invite(c.id, card)));
  if (OPEN_WORK.includes(c.state) && (c.escalation_level || 0) < 2 && role === "leader") {
    out.push(button(t("Hand to the line department"), ask("escalate", t("Why can the grid not solve it?")), "secondary"));
  }
  if (["reported", "returned"].includes(c.state)) {
    out.push(button(term("action", "reroute"), async () => {
      const grid = prompt(t("Re-route to which micro-grid (id)?"), c.micro_grid);
      if (grid) await enqueue({ caseId: c.id, action: "reroute", reason: t("re-routed by the leader"), data: { micro_grid: grid } });
    }, "secondary"));
  }
  if (!["closed", "void", "rated"].includes(c.state)) {
    out.push(button(term("action", "void"), ask("void", t("Why is this not a violation? (it goes back to the edge's tuning)")), "secondary"));
  }
  return out;
}

/** A leader's check on site: a note and, if they like, a photo of the spot now. */
function verifyForm(c) {
  const form = document.createElement("form");
  form.className = "handle verify";
  const note = Object.assign(document.createElement("input"), { name: "note", placeholder: t("What did you see on site? (optional)") });
  const file = Object.assign(document.createElement("input"), { type: "file", accept: "image/*", capture: "environment",
    name: "photo" });
  const send = Object.assign(document.createElement("button"), { type: "submit", textContent: term("action", "verify") });
  form.append(note, file, send);
  form.onsubmit = async (event) => {
    event.preventDefault();
    send.disabled = true;
    await enqueue({ caseId: c.id, action: "verify", reason: note.value || t("checked on site"),
      ...(file.files.length ? { photo: await photo(file.files[0]), photoField: "photo_sha256" } : {}) });
  };
  return form;
}

/** The consultation (会商) thread of a case: its notes and photos, and a note to add. */
function consultation(c) {
  const box = document.createElement("div");
  box.className = "consultation";
  const title = document.createElement("div");
  title.className = "meta";
  title.textContent = t("Consultation");
  const list = document.createElement("ol");
  const form = document.createElement("form");
  form.className = "row";
  const text = Object.assign(document.createElement("input"), { name: "note", required: true, maxLength: 2000,
    placeholder: t("add to the consultation") });
  const file = Object.assign(document.createElement("input"), { type: "file", accept: "image/*", name: "photo" });
  const send = Object.assign(document.createElement("button"), { type: "submit", textContent: t("Send") });
  form.append(text, file, send);
  form.onsubmit = async (event) => {
    event.preventDefault();
    try {
      const body = { text: text.value };
      if (file.files.length) body.photo_sha256 = await upload(await photo(file.files[0]));
      await api(`/api/v1/cases/${c.id}/consultation/notes`, { method: "POST",
        headers: { "content-type": "application/json" }, body: JSON.stringify(body) });
      text.value = "";
      file.value = "";
      await fill();
    } catch (e) { say(e.message); }
  };
  async function fill() {
    const thread = await api(`/api/v1/cases/${c.id}/consultation`);
    list.replaceChildren(...thread.notes.map((n) => {
      const item = document.createElement("li");
      item.textContent = `${localTime(n.at)} ${n.author_id} (${term("role", n.author_role)}): ${n.text}`;
      if (n.photo_url) item.append(Object.assign(document.createElement("img"), { src: n.photo_url, alt: "" }));
      return item;
    }));
    form.hidden = !thread.participants.includes(me().person_id);
  }
  fill().catch((e) => say(e.message));
  box.append(title, list, form);
  return box;
}

/** A leader at the spot: a one-time rating link as a QR code for residents to scan. */
async function invite(caseId, card) {
  const made = await api(`/api/v1/cases/${caseId}/rating-links`, { method: "POST" });
  card.querySelector(".invite")?.remove();
  const box = document.createElement("div");
  box.className = "invite";
  const qr = document.createElement("img");
  qr.src = made.qr_svg;
  qr.alt = t("QR code of the rating link");
  qr.className = "qr";
  const note = document.createElement("div");
  note.className = "meta";
  note.textContent = t("Residents scan this or open the link on their phone; it works once, until {time}.",
    { time: localTime(made.expires_at) });
  box.append(qr, note);
  card.append(box);
}

function button(label, onClick, cls = "") {
  const b = document.createElement("button");
  b.textContent = label;
  if (cls) b.className = cls;
  b.onclick = () => onClick().catch((e) => say(e.message));
  return b;
}

async function load() {
  const user = me();
  if (!user) return;
  const inbox = `/api/v1/people/${encodeURIComponent(user.person_id)}/inbox`;
  const items = await api(inbox);
  let shown = items;
  if (LEADS.includes(user.role)) { // a leader sees the micro-grids they lead (a department what is handed to it)
    const entries = new Map(items.map((i) => [i.case.id, i]));
    shown = (await api("/api/v1/cases?limit=200")).map((c) => ({ ...(entries.get(c.id) || {}), case: c }));
  }
  render(shown);
  say(t("Cases of {person}", { person: user.person_id }));
  // Shown: the entries are read, and each case counts as delivered to its worker.
  const unseen = items.filter((i) => i.status === "unread").map((i) => i.notification_id);
  if (unseen.length) {
    await api(`${inbox}/seen`, { method: "POST", headers: { "content-type": "application/json" },
                                 body: JSON.stringify({ notification_ids: unseen }) });
  }
}

/** Where the phone is, when it may say (a patrol report's place); null otherwise. */
function here() {
  return new Promise((resolve) => {
    if (!navigator.geolocation) return resolve(null);
    navigator.geolocation.getCurrentPosition((p) => resolve({ lon: p.coords.longitude, lat: p.coords.latitude }),
      () => resolve(null), { timeout: 8000, maximumAge: 60000 });
  });
}

async function sendReport(event) {
  event.preventDefault();
  const file = $("report-photo").files[0];
  if (!file) return say(t("Take a photo of the spot as it is now."));
  const where = await here();
  const report = { kind: $("report-kind").value, note: $("report-note").value.trim(), ...(where || {}) };
  if (!where && $("report-grid").value.trim()) report.micro_grid = $("report-grid").value.trim();
  $("report").reset();
  $("report").hidden = true;
  await enqueue({ report, photo: await photo(file) });
}

/** The service worker: the page and the last case list open with no signal (sw.js). */
function offlineReady() {
  if ("serviceWorker" in navigator) navigator.serviceWorker.register("sw.js", { scope: "./" }).catch(() => null);
}

/** "My page is open": every five minutes while it is shown (the assessment's online rate). */
function present() {
  const user = me();
  if (user && document.visibilityState === "visible" && navigator.onLine) {
    api(`/api/v1/people/${encodeURIComponent(user.person_id)}/presence`, { method: "POST" }).catch(() => null);
  }
}

function start() {
  offlineReady();
  present();
  setInterval(present, 5 * 60 * 1000);
  document.addEventListener("visibilitychange", present);
  $("report-kind").replaceChildren(...Object.keys(words.terms.kind || {}).map((k) =>
    Object.assign(document.createElement("option"), { value: k, textContent: kindName(k) })));
  $("report-open").onclick = () => { $("report").hidden = !$("report").hidden; };
  $("report").onsubmit = (e) => sendReport(e).catch((err) => say(err.message));
  $("language").value = words.locale;
  $("language").onchange = () => { localStorage.setItem("locale", $("language").value); location.reload(); };
  $("login").onsubmit = (e) => login(e).catch((err) => say(err.message));
  $("load").onclick = () => flush().then(load).catch((e) => say(e.message));
  window.addEventListener("online", () => flush());
  setInterval(() => flush(), 10000);
  $("subscribe").onclick = () => subscribe().catch((e) => say(e.message));
  $("logout").onclick = () => api("/api/v1/auth/logout", { method: "POST" }).finally(forget);
  const fromLink = new URLSearchParams(location.hash.slice(1)).get("token");
  if (fromLink) {
    history.replaceState(null, "", location.pathname);
    adopt(fromLink).catch((e) => say(e.message));
  } else {
    show();
    fromLocalStorage().then(queued).then(flush).then(load).catch((e) => say(e.message));
  }
}

loadWords().then(start);
