// The dispatch console: who is logged in, the tabs, and the live feed (WebSocket) that keeps
// the desk and the cameras fresh. Each tab's own code is in its module.
import { $, age, api, el, loadWords, say, session, t, term, token, words } from "./common.js";
import { fillFilters, loadCases, render, upsert } from "./cases.js";
import { board, loadCameras, renderCameras } from "./cameras.js";
import { loadMap } from "./map.js";
import { downloadCsv, fillMonths, loadStats } from "./stats.js";
import { bindZoneEditor, loadZoneCameras } from "./zones.js";

let socket = null;
let gridInfo = null;
session.loggedOut = () => logout();

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
  socket.onopen = () => { $("link").textContent = t("live"); $("link").className = "pill live"; };
  socket.onclose = () => {
    $("link").textContent = t("offline"); $("link").className = "pill";
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

async function loadGrid() {
  const grid = await api("/api/v1/grid");
  gridInfo = grid;
  const select = $("f-grid");
  select.replaceChildren(el("option", { value: "", text: t("all micro-grids") }));
  for (const community of grid.communities) {
    const group = el("optgroup", { label: community.name });
    for (const g of community.micro_grids) group.append(el("option", { value: g.id, text: `${g.id} ${g.name || ""}` }));
    select.append(group);
  }
  return grid;
}

function pickGrid(id) {
  $("f-grid").value = id;
  showTab("desk");
  render(null);
}

function showTab(name) {
  for (const id of ["desk", "map", "cameras", "zones", "stats"]) $(id).hidden = id !== name;
  if (name === "zones") loadZoneCameras().catch((e) => say(e.message));
  if (name === "map") loadMap(gridInfo, pickGrid).catch((e) => say(e.message));
  if (name === "cameras") loadCameras().catch((e) => say(e.message));
  for (const b of document.querySelectorAll("button.tab")) b.classList.toggle("active", b.dataset.tab === name);
  if (name === "stats") loadStats().catch((e) => say(e.message));
}

async function start() {
  const me = await api("/api/v1/auth/me");
  $("who").textContent = `${me.person_id} (${term("role", me.role)})`;
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
  if (!r.ok) { $("login-status").textContent = r.status === 429 ? t("Too many tries; wait a few minutes.") : t("Wrong id or password."); return; }
  $("password").value = "";
  localStorage.setItem("console-token", (await r.json()).token);
  start().catch((e) => say(e.message));
};
$("logout").onclick = () => api("/api/v1/auth/logout", { method: "POST" }).catch(() => null).finally(logout);
for (const id of ["f-grid", "f-kind", "f-state"]) $(id).onchange = () => render(null);
for (const b of document.querySelectorAll("button.tab")) b.onclick = () => showTab(b.dataset.tab);
for (const id of ["s-month", "s-by"]) $(id).onchange = () => loadStats().catch((e) => say(e.message));
$("s-csv").onclick = () => downloadCsv().catch((e) => say(e.message));
bindZoneEditor();
setInterval(() => { for (const td of document.querySelectorAll("td.age")) td.textContent = age(td.dataset.since); }, 10000);
$("language").onchange = () => { localStorage.setItem("locale", $("language").value); location.reload(); };

const fromLink = new URLSearchParams(location.hash.slice(1)).get("token"); // the demo prints such a link
if (fromLink) {
  localStorage.setItem("console-token", fromLink);
  history.replaceState(null, "", location.pathname);
}
loadWords().then(() => {
  $("language").value = words.locale;
  fillFilters();
  fillMonths();
  if (token()) start().catch((e) => { say(e.message); logout(); });
  else logout();
});
