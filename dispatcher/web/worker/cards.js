// A case as a card on the phone: its pictures and facts, and what this person may do with it
// now (by role and state), the check on site, the consultation thread, the residents' QR code.
import { $, api, button, me, photo, say } from "./common.js";
import { enqueue, upload } from "./queue.js";
import { age, kindName, localTime, t, term } from "../shared/words.js";

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

export function render(items) {
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

export const LEADS = ["leader", "department"]; // the lifecycle lets a line department act as a leader does
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

