"use strict";
// The dispatch console: the live feed of cases (WebSocket), filters, and a case panel with
// its images, timeline, notifications and actions. Plain DOM, no build step; every text from
// the server goes in through textContent.
const $ = (id) => document.getElementById(id);
const OPEN = new Set(["reported", "dispatched", "accepted", "consult", "handled", "rework", "verified", "rated"]);
const cases = new Map(); // case id -> summary
let selected = null;
let socket = null;

const token = () => localStorage.getItem("console-token") || "";
const say = (text) => { $("status").textContent = text; };

async function api(path, options = {}) {
  const headers = { ...(options.headers || {}), authorization: `Bearer ${token()}` };
  const r = await fetch(path, { ...options, headers });
  if (r.status === 401) { logout(); throw new Error("Please log in again."); }
  if (!r.ok) throw new Error(`${r.status}: ${(await r.json().catch(() => ({}))).detail || r.statusText}`);
  return r.status === 204 ? null : r.json();
}

function el(tag, props = {}, ...children) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(props)) {
    if (key === "class") node.className = value;
    else if (key === "text") node.textContent = value;
    else if (key.startsWith("on")) node.addEventListener(key.slice(2), value);
    else node.setAttribute(key, value);
  }
  node.append(...children.filter((c) => c !== null && c !== undefined));
  return node;
}

function age(iso) {
  if (!iso) return "";
  const s = Math.max(0, (Date.now() - Date.parse(iso)) / 1000);
  if (s < 90) return `${Math.round(s)} s`;
  if (s < 5400) return `${Math.round(s / 60)} min`;
  if (s < 172800) return `${Math.round(s / 3600)} h`;
  return `${Math.round(s / 86400)} d`;
}

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

function render(freshId) {
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

async function upsert(caseId, summary, isNew) {
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

async function loadCases() {
  const list = await api("/api/v1/cases?limit=200");
  cases.clear();
  for (const c of list) cases.set(c.id, c);
  render(null);
}

async function loadGrid() {
  const grid = await api("/api/v1/grid");
  gridInfo = grid;
  const select = $("f-grid");
  select.replaceChildren(el("option", { value: "", text: "all micro-grids" }));
  for (const community of grid.communities) {
    const group = el("optgroup", { label: community.name });
    for (const g of community.micro_grids) group.append(el("option", { value: g.id, text: `${g.id} ${g.name || ""}` }));
    select.append(group);
  }
  return grid;
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

const PERCENT = new Set(["accepted_on_time_rate", "closing_rate", "handled_on_time_rate", "rework_rate"]);

function cell(key, value) {
  if (value === null || value === undefined) return "—";
  return PERCENT.has(key) ? `${Math.round(value * 100)} %` : String(value);
}

function chart(rows) {
  const svg = $("s-chart");
  const ns = "http://www.w3.org/2000/svg";
  const line = 22, width = 640, labelW = 140, barW = width - labelW - 60;
  svg.setAttribute("viewBox", `0 0 ${width} ${Math.max(1, rows.length) * line + 24}`);
  svg.replaceChildren();
  const title = document.createElementNS(ns, "text");
  title.setAttribute("x", "8"); title.setAttribute("y", "15");
  title.textContent = "closing rate";
  svg.append(title);
  rows.forEach((r, i) => {
    const y = 24 + i * line;
    const make = (tag, attrs, text) => {
      const node = document.createElementNS(ns, tag);
      for (const [k, v] of Object.entries(attrs)) node.setAttribute(k, String(v));
      if (text !== undefined) node.textContent = text;
      svg.append(node);
    };
    make("text", { x: 8, y: y + 14 }, r.group);
    make("rect", { class: "track", x: labelW, y: y + 3, width: barW, height: 14, rx: 3 });
    make("rect", { class: "bar", x: labelW, y: y + 3, width: barW * (r.closing_rate || 0), height: 14, rx: 3 });
    make("text", { x: labelW + barW + 6, y: y + 14 }, cell("closing_rate", r.closing_rate));
  });
}

async function loadStats() {
  const month = $("s-month").value, by = $("s-by").value;
  const [summary, rows] = await Promise.all([
    api("/api/v1/stats"), api(`/api/v1/assessment?month=${month}&by=${by}`)]);
  $("s-summary").replaceChildren(...[["cases", summary.total], ["open", summary.open], ["overdue", summary.overdue],
    ["not yet delivered", summary.undelivered]].map(([k, v]) => el("div", {}, el("b", { text: String(v) }), k)));
  const keys = rows.length ? Object.keys(rows[0]).filter((k) => k !== "month") : ["group"];
  $("s-table").tHead.replaceChildren(el("tr", {}, ...keys.map((k) => el("th", { text: k.replace(/_/g, " ") }))));
  $("s-table").tBodies[0].replaceChildren(...rows.map((r) => el("tr", {}, ...keys.map((k) => el("td", { text: cell(k, r[k]) })))));
  chart(rows);
  say(rows.length ? `${rows.length} rows for ${month}` : `no cases opened in ${month}`);
}

async function downloadCsv() {
  const month = $("s-month").value, by = $("s-by").value;
  const r = await fetch(`/api/v1/assessment.csv?month=${month}&by=${by}`, { headers: { authorization: `Bearer ${token()}` } });
  if (!r.ok) throw new Error(`${r.status}`);
  const link = el("a", { href: URL.createObjectURL(await r.blob()), download: `assessment-${by}-${month}.csv` });
  link.click();
  URL.revokeObjectURL(link.href);
}

const board = { cameras: new Map(), edges: new Map() };

function renderCameras() {
  const rows = [...board.cameras.values()].sort((a, b) => `${a.edge_id}/${a.camera_id}`.localeCompare(`${b.edge_id}/${b.camera_id}`));
  const counts = {};
  for (const c of rows) counts[c.state] = (counts[c.state] || 0) + 1;
  const offlineBoxes = [...board.edges.values()].filter((e) => e.state !== "online").length;
  $("c-summary").replaceChildren(...[["cameras", rows.length], ...Object.entries(counts), ["boxes offline", offlineBoxes]]
    .map(([k, v]) => el("div", {}, el("b", { text: String(v) }), k)));
  $("c-table").tBodies[0].replaceChildren(...rows.map((c) => {
    const box = board.edges.get(c.edge_id)?.state || c.edge_state || "unknown";
    return el("tr", { "data-camera": `${c.edge_id}/${c.camera_id}` },
      el("td", { text: c.edge_id }), el("td", {}, el("span", { class: `state ${box}`, text: box })),
      el("td", { text: c.camera_id }), el("td", {}, el("span", { class: `state ${c.state}`, text: c.state })),
      el("td", { text: c.reason || "" }), el("td", { text: `${c.since.slice(0, 19).replace("T", " ")} (${age(c.since)} ago)` }),
      el("td", { class: "last-frame", text: c.last_frame_at ? `${age(c.last_frame_at)} ago` : "—" }),
      el("td", { text: `${age(c.received_at)} ago` }));
  }));
}

async function loadCameras() {
  const data = await api("/api/v1/cameras");
  board.cameras.clear();
  board.edges.clear();
  for (const c of data.cameras) board.cameras.set(`${c.edge_id}/${c.camera_id}`, c);
  for (const e of data.edges) board.edges.set(e.edge_id, e);
  renderCameras();
}

let map = null, mapLayers = null, gridInfo = null;

function shade(open) {
  return open === 0 ? "#5aa469" : open <= 2 ? "#e8a33d" : "#c8442f";
}

async function loadMap() {
  if (!map) {
    map = L.map("map-view", { zoomSnap: 0.25 });
    const tiles = gridInfo?.map?.tiles;
    if (tiles) L.tileLayer(tiles, { attribution: gridInfo.map.attribution || "" }).addTo(map);
    else map.getContainer().classList.add("plain"); // no tile server: the grids on a plain background
    mapLayers = L.layerGroup().addTo(map);
  }
  map.invalidateSize();
  const areas = await api("/api/v1/grid/areas");
  mapLayers.clearLayers();
  const cells = L.geoJSON(areas, {
    filter: (f) => f.properties.level === "micro_grid",
    style: (f) => ({ color: "#1d2330", weight: 1, fillColor: shade(f.properties.open_cases), fillOpacity: 0.55 }),
    onEachFeature: (f, layer) => {
      layer.bindTooltip(`${f.properties.id} ${f.properties.name || ""}: ${f.properties.open_cases} open`,
        { permanent: true, direction: "center", className: "grid-label" });
      layer.on("click", () => { $("f-grid").value = f.properties.id; showTab("desk"); render(null); });
    },
  }).addTo(mapLayers);
  L.geoJSON(areas, { filter: (f) => f.properties.level === "community",
    style: { color: "#1f4e8c", weight: 3, fill: false, dashArray: "6 4" } }).addTo(mapLayers);
  const cameras = new Map();
  for (const c of cases.values()) {
    if (c.lat === null || c.lat === undefined || !OPEN.has(c.state)) continue;
    const key = `${c.edge_id}/${c.camera_id}`;
    cameras.set(key, { ...(cameras.get(key) || { lat: c.lat, lon: c.lon, n: 0, id: c.camera_id }), n: (cameras.get(key)?.n || 0) + 1 });
  }
  for (const cam of cameras.values()) {
    L.circleMarker([cam.lat, cam.lon], { radius: 6, color: "#1d2330", fillColor: "#fff", fillOpacity: 1, weight: 2 })
      .bindTooltip(`${cam.id}: ${cam.n} open`).addTo(mapLayers);
  }
  if (cells.getLayers().length) map.fitBounds(cells.getBounds(), { padding: [20, 20] });
  // drawn once the map has a view: name each cell's path (what the tests and styles find)
  for (const layer of cells.getLayers()) layer.getElement()?.setAttribute("data-grid", layer.feature.properties.id);
}

const editor = { camera: null, zones: [], selected: 0, drag: null, door: null };
// editor.drag: the point being dragged, { key: "polygon" | "door_line", index }; editor.door:
// while a door line is being drawn, [] or [first point] (a shop front's two clicks).

function zonePoint(event) {
  const box = $("z-svg").getBoundingClientRect();
  const clamp = (v) => Math.min(1, Math.max(0, Math.round(v * 10000) / 10000));
  return [clamp((event.clientX - box.left) / box.width), clamp((event.clientY - box.top) / box.height)];
}

function handle(svg, zone, key, index) {
  const [x, y] = zone[key][index];
  const dot = document.createElementNS("http://www.w3.org/2000/svg", "circle");
  dot.setAttribute("cx", x * 1000); dot.setAttribute("cy", y * 1000); dot.setAttribute("r", 9);
  if (key === "door_line") dot.classList.add("door");
  dot.addEventListener("mousedown", (e) => { e.stopPropagation(); editor.drag = { key, index }; });
  if (key === "polygon") {
    dot.addEventListener("dblclick", (e) => { e.stopPropagation(); zone.polygon.splice(index, 1); drawZones(); });
  }
  svg.append(dot);
}

function drawZones() {
  const ns = "http://www.w3.org/2000/svg";
  const svg = $("z-svg");
  svg.replaceChildren();
  editor.zones.forEach((zone, zi) => {
    const poly = document.createElementNS(ns, "polygon");
    poly.setAttribute("points", (zone.polygon || []).map(([x, y]) => `${x * 1000},${y * 1000}`).join(" "));
    poly.setAttribute("data-zone", zone.id || "");
    if (zi === editor.selected) poly.classList.add("selected");
    svg.append(poly);
    const door = zone.door_line || (zi === editor.selected && editor.door?.length ? [editor.door[0], editor.door[0]] : null);
    if (door) { // a shop front's door line: what stands behind it is inside the shop
      const line = document.createElementNS(ns, "line");
      line.setAttribute("x1", door[0][0] * 1000); line.setAttribute("y1", door[0][1] * 1000);
      line.setAttribute("x2", door[1][0] * 1000); line.setAttribute("y2", door[1][1] * 1000);
      line.setAttribute("data-door", zone.id || "");
      line.classList.add("door");
      svg.append(line);
    }
    if (zi !== editor.selected) return;
    (zone.polygon || []).forEach((_, pi) => handle(svg, zone, "polygon", pi));
    (zone.door_line || []).forEach((_, di) => handle(svg, zone, "door_line", di));
  });
  const selected = editor.zones[editor.selected];
  $("z-door").disabled = !selected || selected.kind !== "cross_door_trading";
  $("z-door").classList.toggle("active", editor.door !== null);
  $("z-hint").textContent = editor.door === null ? ""
    : `door line: click its ${editor.door.length ? "second" : "first"} end, on the strip's shop side`;
  const list = $("z-list");
  list.replaceChildren(...editor.zones.map((zone, zi) => {
    const field = (label, input) => [el("span", { class: "muted", text: label }), input];
    const text = (key, value, onchange) => {
      const input = el("input", { value: value ?? "", "data-key": key });
      input.onchange = () => { onchange(input.value); };
      return input;
    };
    const kind = el("select", { "data-key": "kind" }, ...["parked_bike", "cross_door_trading"].map((k) => {
      const option = el("option", { value: k, text: k.replace(/_/g, " ") });
      if (zone.kind === k) option.selected = true;
      return option;
    }));
    kind.onchange = () => {
      zone.kind = kind.value;
      if (zone.kind !== "cross_door_trading") { delete zone.door_line; editor.door = null; }
      drawZones();
    };
    const card = el("div", { class: `zone-card${zi === editor.selected ? " selected" : ""}`, "data-zone-index": String(zi),
      onclick: () => { if (editor.selected !== zi) { editor.selected = zi; drawZones(); } } },
      ...field("zone id", text("id", zone.id, (v) => { zone.id = v; })),
      ...field("kind", kind),
      ...field("classes", text("classes", (zone.classes || []).join(", "), (v) => {
        zone.classes = v.split(",").map((c) => c.trim()).filter(Boolean);
      })),
      ...field("dwell s", text("dwell_s", zone.dwell_s, (v) => { zone.dwell_s = Number(v); })),
      ...field("micro-grid", text("micro_grid", zone.micro_grid, (v) => { if (v) zone.micro_grid = v; else delete zone.micro_grid; })),
      ...field("shop id", text("shop_id", zone.shop_id, (v) => { if (v) zone.shop_id = v; else delete zone.shop_id; })),
      ...field("points", el("span", { text: String((zone.polygon || []).length) })),
      ...(zone.kind === "cross_door_trading" ? field("door line", zone.door_line
        ? el("button", { class: "secondary small", text: "remove door line", "data-key": "door_line",
          onclick: (e) => { e.stopPropagation(); delete zone.door_line; drawZones(); } })
        : el("span", { class: "muted", text: "none: draw it along the shop's side", "data-key": "door_line" })) : []),
      el("span"), el("button", { class: "danger", text: "Remove zone", onclick: (e) => {
        e.stopPropagation(); editor.zones.splice(zi, 1); editor.selected = 0; drawZones();
      } }));
    return card;
  }));
}

async function loadZoneCameras() {
  const list = await api("/api/v1/zones");
  const select = $("z-camera");
  const keep = select.value;
  select.replaceChildren(...list.map((c) => el("option", { value: c.camera_id, text: `${c.camera_id} (${c.edge || "one box"}, ${c.zones} zones)` })));
  if (keep) select.value = keep;
  if (select.value) await loadZones(select.value);
}

async function loadZones(cameraId) {
  const data = await api(`/api/v1/zones/${encodeURIComponent(cameraId)}`);
  editor.camera = cameraId;
  editor.zones = structuredClone(data.zones);
  editor.selected = 0;
  editor.door = null;
  const image = $("z-image");
  if (data.snapshot_url && data.snapshot_url.startsWith("http")) { image.src = data.snapshot_url; image.hidden = false; }
  else { image.removeAttribute("src"); image.hidden = true; }
  $("z-status").textContent = data.snapshot_url ? "" : "no snapshot of this camera yet: drawing on a blank frame";
  drawZones();
}

async function saveZones() {
  try {
    const saved = await api(`/api/v1/zones/${encodeURIComponent(editor.camera)}`, {
      method: "PUT", headers: { "content-type": "application/json" }, body: JSON.stringify({ zones: editor.zones }),
    });
    editor.zones = structuredClone(saved.zones);
    drawZones();
    $("z-status").textContent = `saved ${saved.zones.length} zone(s) of ${editor.camera}`;
  } catch (e) {
    $("z-status").textContent = `not saved: ${e.message}`;
  }
}

function showTab(name) {
  for (const id of ["desk", "map", "cameras", "zones", "stats"]) $(id).hidden = id !== name;
  if (name === "zones") loadZoneCameras().catch((e) => say(e.message));
  if (name === "map") loadMap().catch((e) => say(e.message));
  if (name === "cameras") loadCameras().catch((e) => say(e.message));
  for (const b of document.querySelectorAll("button.tab")) b.classList.toggle("active", b.dataset.tab === name);
  if (name === "stats") loadStats().catch((e) => say(e.message));
}

async function start() {
  const me = await api("/api/v1/auth/me");
  $("who").textContent = `${me.person_id} (${me.role})`;
  $("login").hidden = true;
  $("tabs").hidden = false;
  showTab("desk");
  $("logout").hidden = false;
  await loadGrid();
  await loadCases();
  connect();
}

function logout() {
  localStorage.removeItem("console-token");
  if (socket) socket.close();
  $("desk").hidden = true;
  $("stats").hidden = true;
  $("cameras").hidden = true;
  $("map").hidden = true;
  $("zones").hidden = true;
  $("tabs").hidden = true;
  $("logout").hidden = true;
  $("login").hidden = false;
  $("who").textContent = "";
}

$("login").onsubmit = async (event) => {
  event.preventDefault();
  const r = await fetch("/api/v1/auth/login", {
    method: "POST", headers: { "content-type": "application/json" },
    body: JSON.stringify({ person_id: $("person").value.trim(), password: $("password").value }),
  });
  if (!r.ok) { $("login-status").textContent = r.status === 429 ? "Too many tries; wait a few minutes." : "Wrong id or password."; return; }
  $("password").value = "";
  localStorage.setItem("console-token", (await r.json()).token);
  start().catch((e) => say(e.message));
};
$("logout").onclick = () => api("/api/v1/auth/logout", { method: "POST" }).catch(() => null).finally(logout);
for (const id of ["f-grid", "f-kind", "f-state"]) $(id).onchange = () => render(null);
for (const b of document.querySelectorAll("button.tab")) b.onclick = () => showTab(b.dataset.tab);
$("s-month").value = new Date().toISOString().slice(0, 7);
for (const id of ["s-month", "s-by"]) $(id).onchange = () => loadStats().catch((e) => say(e.message));
$("s-csv").onclick = () => downloadCsv().catch((e) => say(e.message));
$("z-camera").onchange = () => loadZones($("z-camera").value).catch((e) => say(e.message));
$("z-svg").addEventListener("click", (event) => {
  const zone = editor.zones[editor.selected];
  if (!zone || editor.drag !== null) return;
  if (editor.door !== null) { // drawing the shop front's door line: two clicks
    editor.door.push(zonePoint(event));
    if (editor.door.length === 2) { zone.door_line = editor.door; editor.door = null; }
  } else {
    zone.polygon = [...(zone.polygon || []), zonePoint(event)];
  }
  drawZones();
});
$("z-svg").addEventListener("mousemove", (event) => {
  if (editor.drag === null) return;
  editor.zones[editor.selected][editor.drag.key][editor.drag.index] = zonePoint(event);
  drawZones();
});
window.addEventListener("mouseup", () => { setTimeout(() => { editor.drag = null; }, 0); });
$("z-new").onclick = () => {
  editor.zones.push({ id: `z${editor.zones.length + 1}`, kind: "parked_bike", classes: ["bicycle", "motorcycle"],
    dwell_s: 120, polygon: [] });
  editor.selected = editor.zones.length - 1;
  drawZones();
};
$("z-undo").onclick = () => { editor.zones[editor.selected]?.polygon?.pop(); drawZones(); };
$("z-door").onclick = () => { editor.door = editor.door === null ? [] : null; drawZones(); };
$("z-save").onclick = () => saveZones();
setInterval(() => { for (const td of document.querySelectorAll("td.age")) td.textContent = age(td.dataset.since); }, 10000);

const fromLink = new URLSearchParams(location.hash.slice(1)).get("token"); // the demo prints such a link
if (fromLink) {
  localStorage.setItem("console-token", fromLink);
  history.replaceState(null, "", location.pathname);
}
if (token()) start().catch((e) => { say(e.message); logout(); });
else logout();
