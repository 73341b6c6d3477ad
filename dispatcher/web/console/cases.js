// The desk: the cases as they come (the feed keeps them fresh), filters, and a case's panel
// with its images, timeline, notifications and the dispatcher's actions.
import { $, age, api, el, say } from "./common.js";

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
    ? el("img", { src: c.snapshot_url, alt: "snapshot", loading: "lazy" }) : "";
  const tr = el("tr", { "data-case-id": String(c.id), class: fresh ? "new" : "", onclick: () => open(c.id) },
    el("td", {}, thumb), el("td", { text: `#${c.id}` }), el("td", { text: c.kind.replace(/_/g, " ") }),
    el("td", { text: `${c.camera_id} / ${c.zone_id}` }), el("td", { text: c.micro_grid }),
    el("td", { text: c.assignee_id || "—" }),
    el("td", {}, el("span", { class: `state ${c.state}`, text: c.state })),
    el("td", { class: "age", "data-since": c.opened_at || "", text: age(c.opened_at) }));
  if (c.id === selected) tr.classList.add("selected");
  return tr;
}

export function render(freshId) {
  const shown = [...cases.values()].filter(passes).sort((a, b) => b.id - a.id);
  $("feed").tBodies[0].replaceChildren(...shown.map((c) => row(c, c.id === freshId)));
  $("count").textContent = `${shown.length} of ${cases.size} cases`;
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

async function connect() {
  // A one-time ticket in the subprotocol header: no token in the socket's URL (access logs).
  const scheme = location.protocol === "https:" ? "wss" : "ws";
  let ticket;
  try {
    ticket = await api("/api/v1/feed/tickets", { method: "POST" });
  } catch (e) {
    if (token()) setTimeout(() => connect(), 3000);
    return;
  }
  socket = new WebSocket(`${scheme}://${location.host}/api/v1/feed`, [ticket.protocol, `ticket.${ticket.ticket}`]);
  socket.onopen = () => { $("link").textContent = "live"; $("link").className = "pill live"; };
  socket.onclose = () => {
    $("link").textContent = "offline"; $("link").className = "pill";
    if (token()) setTimeout(() => connect(), 3000); // and reload what was missed
  };
  socket.onmessage = (message) => {
    const data = JSON.parse(message.data);
    if (data.type === "event" && data.case_id) upsert(data.case_id, null, data.case_opened).catch((e) => say(e.message));
    if (data.type === "case") upsert(data.case.id, data.case, false).catch((e) => say(e.message));
    if (data.type === "camera") { board.cameras.set(`${data.camera.edge_id}/${data.camera.camera_id}`, data.camera); renderCameras(); }
    if (data.type === "edge") { board.edges.set(data.edge.edge_id, data.edge); renderCameras(); }
  };
}

export async function loadCases() {
  const list = await api("/api/v1/cases?limit=200");
  cases.clear();
  for (const c of list) cases.set(c.id, c);
  render(null);
}

function figure(label, url) {
  const none = (text) => el("div", { class: "none", text });
  const image = url && url.startsWith("http") ? el("img", { src: url, alt: label }) : none("none yet");
  // an image the dispatcher no longer has (pruned) or cannot reach: say so, no broken icon
  if (image.tagName === "IMG") image.onerror = () => image.replaceWith(none("image unavailable"));
  return el("figure", {}, image, el("figcaption", { text: label }));
}

async function act(caseId, action, reason, data = {}) {
  try {
    await api(`/api/v1/cases/${caseId}/actions/${action}`, {
      method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify({ reason, data }),
    });
    say(`case #${caseId}: ${action} done`);
  } catch (e) { say(`case #${caseId}: ${action} refused: ${e.message}`); }
}

function actions(c) {
  const box = el("div", { class: "actions" });
  const add = (label, handler, cls = "") => box.append(el("button", { class: cls, text: label, onclick: handler }));
  if (c.state === "handled") { // leaders verify (the camera's cleared does too); they may also send it back
    add("Verify", () => act(c.id, "verify", "checked on the after photo"));
    add("Rework", () => { const reason = prompt("What is still wrong?"); if (reason) act(c.id, "reject", reason); }, "secondary");
  }
  if (["verified", "rated"].includes(c.state)) add("Close", () => act(c.id, "close", null));
  if (c.state === "verified") {
    add("Rate", () => {
      const rating = Number(prompt("Resident's rating, 1 (bad) to 5 (good)"));
      if (rating >= 1 && rating <= 5) act(c.id, "rate", null, { rating });
    });
  }
  if (["reported", "returned"].includes(c.state)) {
    add("Re-route", () => {
      const grid = prompt("Re-route to which micro-grid (id)?", c.micro_grid);
      if (grid) act(c.id, "reroute", prompt("Why?") || "re-routed by the dispatcher", { micro_grid: grid });
    }, "secondary");
  }
  if (["dispatched", "accepted", "rework", "consult"].includes(c.state)) {
    add("Escalate", () => {
      const reason = prompt("Why hand it up now (to the micro-grid leader, then the department)?");
      if (reason) act(c.id, "escalate", reason);
    }, "secondary");
    add("Extend", () => {
      const minutes = Number(prompt("Extend the deadline by how many minutes?", "60"));
      if (minutes > 0) act(c.id, "extend", prompt("Why?") || "extended by the dispatcher", { minutes });
    }, "secondary");
  }
  if (OPEN.has(c.state)) {
    add("Void", () => {
      const reason = prompt("Why is this not a violation? (it goes back to the edge's tuning)");
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
    ["kind", `${c.kind.replace(/_/g, " ")} (code ${c.event_code || "—"})`], ["camera", `${c.camera_id} / ${c.zone_id}`],
    ["micro-grid", c.micro_grid], ["worker", c.worker_id || "—"], ["assignee", c.assignee_id || "—"],
    ["opened", c.opened_at ? `${c.opened_at} (${age(c.opened_at)} ago)` : "—"], ["handle by", c.handle_due_at || "—"],
    ["standing", `${Math.round(c.dwell_s)} s`], ["repeat", c.repeat_count ? `${c.repeat_count} before here` : "first"],
    ["camera sees it free", c.cleared_at || "not yet"], ["handling note", c.handling_note || "—"],
    ["rating", c.rating ?? "—"], ["void reason", c.void_reason || "—"],
  ]) facts.append(el("span", { class: "muted", text: k }), el("span", { text: String(v) }));
  const timeline = el("ol", { class: "timeline" });
  for (const t of c.timeline || []) {
    timeline.append(el("li", { text: `${t.at.slice(0, 19).replace("T", " ")} · ${t.action}: ${t.from || "—"} → ${t.to || "—"}`
      + ` · ${t.actor_id} (${t.actor_role})${t.reason ? ` · ${t.reason}` : ""}` }));
  }
  const notes = el("ol", { class: "timeline" });
  for (const n of c.notifications || []) {
    notes.append(el("li", { text: `${n.person_id} by ${n.channel}${n.address ? ` (${n.address})` : ""}: ${n.status}`
      + `, ${n.attempts} attempt(s)${n.detail ? ` · ${n.detail}` : ""}` }));
  }
  $("case").replaceChildren(
    el("h2", {}, el("span", { text: `Case #${c.id}` }), el("span", { class: `state ${c.state}`, text: c.state }),
      el("button", { class: "secondary", text: "×", onclick: () => { selected = null; $("case").hidden = true; render(null); } })),
    el("div", { class: "images" }, figure("before (camera)", c.before_url), figure("now (camera)", c.snapshot_url),
      figure("after (worker)", c.after_photo_url), figure("spot free (camera)", c.cleared_snapshot_url),
      ...(c.objects || []).filter((o) => o.crop).map((o) => figure(`${o.class_name} (camera)`, o.crop.url))),
    facts, actions(c), el("h3", { text: "Timeline" }), timeline, el("h3", { text: "Notifications" }), notes);
  $("case").hidden = false;
}

async function open(caseId) {
  showCase(await api(`/api/v1/cases/${caseId}`));
}
