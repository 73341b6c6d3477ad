// The queue of what the person did, kept in IndexedDB until the dispatcher has it.
import { HttpError, $, api, say, token } from "./common.js";
import { t, term } from "../shared/words.js";

export const after = { flushed: async () => {} }; // set by app.js: reload the cases once the queue is sent

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
export async function queued() {
  const items = await inStore("readonly", (store) => store.getAll());
  $("queue").textContent = items.length ? t("{count} action(s) not sent yet", { count: items.length }) : "";
  return items;
}

const keep = (item) => inStore("readwrite", (store) => store.add(item));
const done = (id) => inStore("readwrite", (store) => store.delete(id));

export async function fromLocalStorage() { // what an older page left in localStorage moves over once
  const old = JSON.parse(localStorage.getItem("queue") || "[]");
  for (const item of old) await keep(item);
  localStorage.removeItem("queue");
}

async function sha256hex(bytes) {
  const digest = await crypto.subtle.digest("SHA-256", bytes);
  return [...new Uint8Array(digest)].map((b) => b.toString(16).padStart(2, "0")).join("");
}

export async function upload(dataUrl) {
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
export async function flush() {
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
    await after.flushed();
  } finally {
    flushing = false;
  }
}

export async function enqueue(item) {
  await keep(item);
  await queued();
  return flush();
}

