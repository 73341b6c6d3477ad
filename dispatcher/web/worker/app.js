// The worker's phone page: log in, see own cases, accept them, ask the leader, report them
// handled with an after photo; actions queue on the phone until the server has them.
// The session token lives in localStorage; `#token=...` in the URL (the demo prints such a
// link) logs in without a password.
import { $, api, me, photo, say, session, token } from "./common.js";
import { LEADS, render } from "./cards.js";
import { after, enqueue, flush, fromLocalStorage, queued } from "./queue.js";
import { kindName, loadWords, t, term, words } from "../shared/words.js";

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
  session.loggedOut = forget;
  after.flushed = load;
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
