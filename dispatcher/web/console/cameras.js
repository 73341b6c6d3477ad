// Cameras: each camera's state as its box reports it, and each box's own state.
import { $, age, api, el, localTime, t, term } from "./common.js";

export const board = { cameras: new Map(), edges: new Map() };

export function renderCameras() {
  const rows = [...board.cameras.values()].sort((a, b) => `${a.edge_id}/${a.camera_id}`.localeCompare(`${b.edge_id}/${b.camera_id}`));
  const counts = {};
  for (const c of rows) counts[c.state] = (counts[c.state] || 0) + 1;
  const offlineBoxes = [...board.edges.values()].filter((e) => e.state !== "online").length;
  $("c-summary").replaceChildren(...[[t("cameras"), rows.length],
    ...Object.entries(counts).map(([state, n]) => [term("camera_state", state), n]), [t("boxes offline"), offlineBoxes]]
    .map(([k, v]) => el("div", {}, el("b", { text: String(v) }), k)));
  $("c-table").tBodies[0].replaceChildren(...rows.map((c) => {
    const box = board.edges.get(c.edge_id)?.state || c.edge_state || "unknown";
    return el("tr", { "data-camera": `${c.edge_id}/${c.camera_id}` },
      el("td", { text: c.edge_id }), el("td", {}, el("span", { class: `state ${box}`, "data-state": box, text: term("camera_state", box) })),
      el("td", { text: c.camera_id }), el("td", {}, el("span", { class: `state ${c.state}`, "data-state": c.state, text: term("camera_state", c.state) })),
      el("td", { text: c.reason || "" }), el("td", { text: `${localTime(c.since)} (${age(c.since)})` }),
      el("td", { class: "last-frame", "data-at": c.last_frame_at || "", text: c.last_frame_at ? age(c.last_frame_at) : "—" }),
      el("td", { text: age(c.received_at) }), zonesCell(c));
  }));
}

/** Which pushed zones the camera's box runs: the save's time, whether it is the newest, or why refused. */
function zonesCell(c) {
  const edge = board.edges.get(c.edge_id) || {};
  const running = edge.zones_version ?? c.zones_running;
  const saved = c.zones_saved;
  const refused = edge.zones_refused ?? c.zones_refused;
  const when = (version) => localTime(new Date(version).toISOString());
  const refusedSaved = refused && saved && parseInt(refused, 10) === saved; // the newest was refused
  const text = !running && !saved ? t("its own config file")
    : running && running === saved ? t("{when} (newest)", { when: when(running) })
      : saved && !refusedSaved && (!running || saved > running) ? t("{when} waiting for the box", { when: when(saved) })
        : running ? when(running) : t("its own config file");
  return el("td", { class: "zones", "data-running": String(running || ""), "data-saved": String(saved || ""),
    title: refused ? t("refused: {why}", { why: refused }) : "" }, text, refused ? el("span", { class: "refused", text: " ⚠" }) : null);
}

export async function loadCameras() {
  const data = await api("/api/v1/cameras");
  board.cameras.clear();
  board.edges.clear();
  for (const c of data.cameras) board.cameras.set(`${c.edge_id}/${c.camera_id}`, c);
  for (const e of data.edges) board.edges.set(e.edge_id, e);
  renderCameras();
}
