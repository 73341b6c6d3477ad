// The desk: the cases as they come (the feed keeps them fresh), filters, and a case's panel
// with its images, timeline, notifications and the dispatcher's actions.
import { $, age, api, el, kindName, localTime, say, t, term, words } from "./common.js";

export const OPEN = new Set(["reported", "dispatched", "accepted", "consult", "handled", "rework", "verified", "rated"]);
export const cases = new Map(); // case id -> summary
let selected = null;

function passes(c) {
  const grid = $("f-grid").value, kind = $("f-kind").value, state = $("f-state").value;
  return (!grid || c.micro_grid === grid) && (!kind || c.kind === kind)
    && (!state || (state === "open" ? OPEN.has(c.state) : c.state === state));
}

function row(c, fresh) {
  const thumb = c.snapshot_url && c.snapshot_url.startsWith("http")
    ? el("img", { src: c.snapshot_url, alt: t("snapshot"), loading: "lazy" }) : "";
  const tr = el("tr", { "data-case-id": String(c.id), class: fresh ? "new" : "", onclick: () => open(c.id) },
    el("td", {}, thumb), el("td", { text: `#${c.id}` }), el("td", { text: kindName(c.kind, c.event_code) }),
    el("td", { text: `${c.camera_id} / ${c.zone_id}` }), el("td", { text: c.micro_grid }),
    el("td", { text: c.assignee_id || "—" }),
    el("td", {}, el("span", { class: `state ${c.state}`, "data-state": c.state, text: term("state", c.state) })),
    el("td", { class: "age", "data-since": c.opened_at || "", title: localTime(c.opened_at, true), text: age(c.opened_at) }));
  if (c.id === selected) tr.classList.add("selected");
  return tr;
}

export function render(freshId) {
  const shown = [...cases.values()].filter(passes).sort((a, b) => b.id - a.id);
  $("feed").tBodies[0].replaceChildren(...shown.map((c) => row(c, c.id === freshId)));
  $("count").textContent = t("{shown} of {total} cases", { shown: shown.length, total: cases.size });
}

function beep() {
  if (!$("sound").checked) return;
  const ctx = new AudioContext();
  const osc = ctx.createOscillator();
  osc.connect(ctx.destination);
  osc.frequency.value = 880;
  osc.start();
  osc.stop(ctx.currentTime + 0.15);
}

export async function upsert(caseId, summary, isNew) {
  const c = summary || await api(`/api/v1/cases/${caseId}`);
  cases.set(c.id, c);
  render(isNew ? c.id : null);
  if (isNew) beep();
  if (selected === c.id) showCase(await api(`/api/v1/cases/${c.id}`));
}

export async function loadCases() {
  const list = await api("/api/v1/cases?limit=200");
  cases.clear();
  for (const c of list) cases.set(c.id, c);
  render(null);
}

function figure(label, url) {
  const none = (text) => el("div", { class: "none", text });
  const image = url && url.startsWith("http") ? el("img", { src: url, alt: label }) : none(t("none yet"));
  // an image the dispatcher no longer has (pruned) or cannot reach: say so, no broken icon
  if (image.tagName === "IMG") image.onerror = () => image.replaceWith(none(t("image unavailable")));
  return el("figure", {}, image, el("figcaption", { text: label }));
}

async function act(caseId, action, reason, data = {}) {
  try {
    await api(`/api/v1/cases/${caseId}/actions/${action}`, {
      method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify({ reason, data }),
    });
    say(t("case #{id}: {action} done", { id: caseId, action: term("action", action) }));
  } catch (e) { say(t("case #{id}: {action} refused: {why}", { id: caseId, action: term("action", action), why: e.message })); }
}

function actions(c) {
  const box = el("div", { class: "actions" });
  const add = (label, handler, cls = "") => box.append(el("button", { class: cls, text: label, onclick: handler }));
  if (c.state === "handled") { // leaders verify (the camera's cleared does too); they may also send it back
    add(term("action", "verify"), () => act(c.id, "verify", t("checked on the after photo")));
    add(term("action", "reject"), () => { const reason = prompt(t("What is still wrong?")); if (reason) act(c.id, "reject", reason); }, "secondary");
  }
  if (["verified", "rated"].includes(c.state)) add(term("action", "close"), () => act(c.id, "close", null));
  if (c.state === "verified") {
    add(t("Invite residents to rate"), () => invite(c.id).catch((e) => say(e.message)));
    add(term("action", "rate"), () => {
      const rating = Number(prompt(t("Resident's rating, 1 (bad) to 5 (good)")));
      if (rating >= 1 && rating <= 5) act(c.id, "rate", null, { rating });
    });
  }
  if (["reported", "returned"].includes(c.state)) {
    add(term("action", "reroute"), () => {
      const grid = prompt(t("Re-route to which micro-grid (id)?"), c.micro_grid);
      if (grid) act(c.id, "reroute", prompt(t("Why?")) || t("re-routed by the dispatcher"), { micro_grid: grid });
    }, "secondary");
  }
  if (["dispatched", "accepted", "rework", "consult"].includes(c.state)) {
    add(term("action", "escalate"), () => {
      const reason = prompt(t("Why hand it up now (to the micro-grid leader, then the department)?"));
      if (reason) act(c.id, "escalate", reason);
    }, "secondary");
    add(term("action", "extend"), () => {
      const minutes = Number(prompt(t("Extend the deadline by how many minutes?"), "60"));
      if (minutes > 0) act(c.id, "extend", prompt(t("Why?")) || t("extended by the dispatcher"), { minutes });
    }, "secondary");
  }
  if (OPEN.has(c.state)) {
    add(term("action", "void"), () => {
      const reason = prompt(t("Why is this not a violation? (it goes back to the edge's tuning)"));
      if (reason) act(c.id, "void", reason);
    }, "danger");
  }
  return box;
}

function showCase(c) {
  selected = c.id;
  for (const tr of $("feed").tBodies[0].rows) tr.classList.toggle("selected", Number(tr.dataset.caseId) === c.id);
  const facts = el("div", { class: "facts" });
  for (const [k, v] of [
    [t("kind"), kindName(c.kind, c.event_code)], [t("camera"), `${c.camera_id} / ${c.zone_id}`],
    [t("micro-grid"), c.micro_grid], [term("role", "worker"), c.worker_id || "—"], [t("assignee"), c.assignee_id || "—"],
    [t("opened"), c.opened_at ? `${localTime(c.opened_at)} (${age(c.opened_at)})` : "—"],
    [t("handle by"), c.handle_due_at ? localTime(c.handle_due_at) : "—"],
    [t("standing"), t("{minutes} min", { minutes: Math.round(c.dwell_s / 60) })],
    [t("repeat"), c.repeat_count ? t("{count} times before here", { count: c.repeat_count }) : t("first time")],
    [t("camera sees it free"), c.cleared_at ? localTime(c.cleared_at) : t("not yet")], [t("handling note"), c.handling_note || "—"],
    [t("rating"), rated(c)], [t("void reason"), c.void_reason || "—"],
  ]) facts.append(el("span", { class: "muted", text: k }), el("span", { text: String(v) }));
  const timeline = el("ol", { class: "timeline" });
  for (const step of c.timeline || []) {
    const states = `${step.from ? term("state", step.from) : "—"} → ${step.to ? term("state", step.to) : "—"}`;
    timeline.append(el("li", { text: `${localTime(step.at, true)} · ${term("action", step.action)}: ${states}`
      + ` · ${step.actor_id} (${term("role", step.actor_role)})${said(step) ? ` · ${said(step)}` : ""}` }));
  }
  const notes = el("ol", { class: "timeline" });
  for (const n of c.notifications || []) {
    const channel = n.address ? `${term("channel", n.channel)} (${n.address})` : term("channel", n.channel);
    const values = { person: n.person_id, channel, status: term("notification", n.status), attempts: n.attempts };
    const line = t("{person} by {channel}: {status}, {attempts} attempt(s)", values);
    notes.append(el("li", { text: n.detail ? `${line} · ${n.detail}` : line }));
  }
  $("case").replaceChildren(
    el("h2", {}, el("span", { text: t("Case #{id}", { id: c.id }) }),
      el("span", { class: `state ${c.state}`, "data-state": c.state, text: term("state", c.state) }),
      el("button", { class: "secondary", text: "×", onclick: () => { selected = null; $("case").hidden = true; render(null); } })),
    el("div", { class: "images" }, figure(t("before (camera)"), c.before_url), figure(t("now (camera)"), c.snapshot_url),
      figure(t("after (worker)"), c.after_photo_url), figure(t("spot free (camera)"), c.cleared_snapshot_url),
      ...(c.objects || []).filter((o) => o.crop).map((o) => figure(t("{object} (camera)", { object: o.class_name }), o.crop.url))),
    facts, actions(c), el("h3", { text: t("Timeline") }), timeline, el("h3", { text: t("Notifications") }), notes);
  if ((c.timeline || []).some((step) => step.action === "consult")) showConsultation(c.id);
  $("case").hidden = false;
}

/** The case's consultation (会商) thread, under its panel. */
async function showConsultation(caseId) {
  const thread = await api(`/api/v1/cases/${caseId}/consultation`);
  const list = el("ol", { class: "timeline consultation" }, ...thread.notes.map((n) => el("li", {
    text: `${localTime(n.at, true)} · ${n.author_id} (${term("role", n.author_role)}): ${n.text}` },
    n.photo_url ? el("img", { src: n.photo_url, alt: "", class: "note-photo" }) : null)));
  $("case").append(el("h3", { text: t("Consultation") }), list);
}

/** A rating with where it came from: the resident's own link, or typed in from a phone call. */
function rated(c) {
  if (c.rating === null || c.rating === undefined) return "—";
  const source = c.rating_source === "resident" ? t("by the resident") : t("taken by phone");
  return `${c.rating} (${source})${c.rating_comment ? ` · ${c.rating_comment}` : ""}`;
}

/** A resident's phone number: a link of their own, sent by SMS. */
function textTo(caseId) {
  const phone = el("input", { type: "tel", class: "invite-phone", placeholder: t("a resident's phone") });
  const send = el("button", { class: "secondary", text: t("Send by SMS"), onclick: async () => {
    try {
      const made = await api(`/api/v1/cases/${caseId}/rating-links`, { method: "POST",
        headers: { "content-type": "application/json" }, body: JSON.stringify({ send_to: phone.value.trim() }) });
      say(made.sent ? t("Rating link sent to {phone}", { phone: phone.value }) : t("The SMS gateway did not take it"));
    } catch (e) { say(e.message); }
  } });
  return el("div", { class: "row" }, phone, send);
}

/** A one-time rating link for residents, shown as a QR code to scan and a link to send on. */
async function invite(caseId) {
  const made = await api(`/api/v1/cases/${caseId}/rating-links`, { method: "POST" });
  const link = el("input", { readonly: "readonly", value: made.url, class: "invite-link" });
  $("case").querySelector(".invite")?.remove();
  $("case").querySelector(".actions").after(el("div", { class: "invite" },
    el("img", { src: made.qr_svg, alt: t("QR code of the rating link"), class: "qr" }),
    el("div", {}, el("p", { text: t("Residents scan this or open the link on their phone; it works once, until {time}.",
      { time: localTime(made.expires_at) }) }), link,
      el("button", { class: "secondary", text: t("Copy link"), onclick: () => navigator.clipboard?.writeText(made.url) }),
      textTo(caseId))));
}

async function open(caseId) {
  showCase(await api(`/api/v1/cases/${caseId}`));
}

/** The desk's filters: the town's words for kinds and states. */
/** A step's reason: the system's in the reader's language (kept as msgid and values), a person's as written. */
function said(step) {
  const kept = step.data && step.data.said;
  if (!kept) return step.reason;
  const values = Object.fromEntries(Object.entries(kept.values || {}).map(([k, v]) => [k, v && v.t ? t(v.t) : v]));
  return t(kept.msgid, values);
}

export function fillFilters() {
  $("f-kind").replaceChildren(el("option", { value: "", text: t("all kinds") }),
    ...Object.keys(words.terms.kind || {}).map((k) => el("option", { value: k, text: kindName(k) })));
  $("f-state").replaceChildren(el("option", { value: "", text: t("all states") }), el("option", { value: "open", text: t("open") }),
    ...Object.keys(words.terms.state || {}).map((s) => el("option", { value: s, text: term("state", s) })));
}
