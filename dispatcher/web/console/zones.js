// The zone editor: a camera's zones drawn over its latest snapshot (points dragged, added by
// click, removed by double click; a shop front's door line by two clicks), classes chosen from
// the box's model, active hours by weekday, tried on the camera's recent past, saved to its box.
import { $, api, el, kindName, localTime, say, t } from "./common.js";

const editor = { camera: null, zones: [], selected: 0, drag: null, door: null, classes: null };
const DAYS = ["mon", "tue", "wed", "thu", "fri", "sat", "sun"];
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
    : editor.door.length ? t("door line: click its second end, on the strip's shop side")
      : t("door line: click its first end, on the strip's shop side");
  const list = $("z-list");
  list.replaceChildren(...editor.zones.map((zone, zi) => {
    const field = (label, input) => [el("span", { class: "muted", text: label }), input];
    const text = (key, value, onchange) => {
      const input = el("input", { value: value ?? "", "data-key": key });
      input.onchange = () => { onchange(input.value); };
      return input;
    };
    const kind = el("select", { "data-key": "kind" }, ...["parked_bike", "cross_door_trading"].map((k) => {
      const option = el("option", { value: k, text: kindName(k) });
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
      ...field(t("zone id"), text("id", zone.id, (v) => { zone.id = v; })),
      ...field(t("kind"), kind),
      ...field(t("classes"), classPicker(zone)),
      ...field(t("active hours"), activeHours(zone)),
      ...field(t("dwell (s)"), text("dwell_s", zone.dwell_s, (v) => { zone.dwell_s = Number(v); })),
      ...field(t("micro-grid"), text("micro_grid", zone.micro_grid, (v) => { if (v) zone.micro_grid = v; else delete zone.micro_grid; })),
      ...field(t("shop id"), text("shop_id", zone.shop_id, (v) => { if (v) zone.shop_id = v; else delete zone.shop_id; })),
      ...field(t("points"), el("span", { text: String((zone.polygon || []).length) })),
      ...(zone.kind === "cross_door_trading" ? field(t("door line"), zone.door_line
        ? el("button", { class: "secondary small", text: t("remove door line"), "data-key": "door_line",
          onclick: (e) => { e.stopPropagation(); delete zone.door_line; drawZones(); } })
        : el("span", { class: "muted", text: t("none: draw it along the shop's side"), "data-key": "door_line" })) : []),
      el("span"), el("button", { class: "danger", text: t("Remove zone"), onclick: (e) => {
        e.stopPropagation(); editor.zones.splice(zi, 1); editor.selected = 0; drawZones();
      } }));
    return card;
  }));
}

/** The zone's classes: chosen from the box's model's own list where the box said it, else typed. */
function classPicker(zone) {
  if (!editor.classes) {
    const input = el("input", { value: (zone.classes || []).join(", "), "data-key": "classes" });
    input.onchange = () => { zone.classes = input.value.split(",").map((c) => c.trim()).filter(Boolean); };
    return input;
  }
  const names = [...new Set([...(zone.classes || []), ...editor.classes])];
  const select = el("select", { multiple: "", size: "5", "data-key": "classes",
    title: t("the classes this camera's model knows; Ctrl-click to choose several") },
  ...names.map((name) => {
    const option = el("option", { value: name, text: name });
    if ((zone.classes || []).includes(name)) option.selected = true;
    return option;
  }));
  select.onchange = () => { zone.classes = [...select.selectedOptions].map((o) => o.value); };
  return select;
}

/** When the zone is enforced: windows of weekdays and hours; none means always. */
function activeHours(zone) {
  const box = el("div", { class: "active-hours", "data-key": "active" });
  const windows = zone.active || [];
  windows.forEach((w, wi) => {
    const days = DAYS.map((day) => {
      const input = el("input", { type: "checkbox", "data-day": day });
      input.checked = (w.days || DAYS).includes(day);
      input.onchange = () => { w.days = DAYS.filter((d) => box.querySelector(`[data-window='${wi}'] [data-day=${d}]`).checked); };
      return el("label", { class: "day" }, input, dayName(day));
    });
    const time = (key, fallback) => {
      const input = el("input", { type: "time", value: (w[key] || fallback).slice(0, 5), "data-key": key });
      input.onchange = () => { w[key] = input.value; };
      return input;
    };
    box.append(el("div", { class: "window", "data-window": String(wi) }, ...days, time("start", "00:00"), "–",
      time("end", "23:59"), el("button", { class: "secondary small", text: "×", title: t("remove these hours"),
        onclick: (e) => { e.stopPropagation(); windows.splice(wi, 1); if (!windows.length) delete zone.active; drawZones(); } })));
  });
  if (!windows.length) box.append(el("span", { class: "muted", text: t("always") }));
  box.append(el("button", { class: "secondary small", text: t("add hours"), "data-add": "active",
    onclick: (e) => {
      e.stopPropagation();
      zone.active = [...windows, { days: DAYS.slice(0, 5), start: "08:00", end: "20:00" }];
      drawZones();
    } }));
  return box;
}

const dayName = (day) => ({ mon: t("Mon"), tue: t("Tue"), wed: t("Wed"), thu: t("Thu"), fri: t("Fri"), sat: t("Sat"),
  sun: t("Sun") })[day];
const would = (state) => ({ opened: t("would open"), updated: t("would continue"), cleared: t("would clear") })[state];

/** The selected zone, as edited, replayed by its box over the camera's recent past. */
async function testZone() {
  const zone = editor.zones[editor.selected];
  const results = $("z-results");
  if (!zone) return;
  results.replaceChildren(el("p", { class: "muted", text: t("asking the box to replay the last {minutes} minutes…", { minutes: 10 }) }));
  try {
    const found = await api(`/api/v1/zones/${encodeURIComponent(editor.camera)}/test`, {
      method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify({ zone, minutes: 10 }),
    });
    const count = (state) => found.events.filter((e) => e.state === state).length;
    const summary = found.error ? t("the box could not test the zone: {why}", { why: found.error })
      : t("zone {zone} on {samples} samples from {since} to {until}: {opened} would open, {cleared} would clear", {
        zone: zone.id, samples: found.samples, since: localTime(found.since), until: localTime(found.until),
        opened: count("opened"), cleared: count("cleared") });
    results.replaceChildren(el("p", { class: "test-summary", text: summary }), ...found.events.map((e) => el("figure",
      { class: `test-event ${e.state}`, "data-state": e.state },
      e.thumbnail ? el("img", { src: e.thumbnail, alt: e.object_class }) : null,
      el("figcaption", { text: `${would(e.state)} · ${localTime(e.at)} · ${e.object_class} · ${t("{seconds} s", { seconds: Math.round(e.dwell_s) })}` }))),
    ...(found.more ? [el("p", { class: "muted", text: t("more would follow") })] : []));
  } catch (e) {
    results.replaceChildren(el("p", { class: "test-summary", text: t("not tested: {why}", { why: e.message }) }));
  }
}

export async function loadZoneCameras() {
  const list = await api("/api/v1/zones");
  const select = $("z-camera");
  const keep = select.value;
  const oneBox = t("one box");
  select.replaceChildren(...list.map((c) => el("option", { value: c.camera_id,
    text: t("{camera} ({box}, {zones} zones)", { camera: c.camera_id, box: c.edge || oneBox, zones: c.zones }) })));
  if (keep) select.value = keep;
  if (select.value) await loadZones(select.value);
}

async function loadZones(cameraId) {
  const data = await api(`/api/v1/zones/${encodeURIComponent(cameraId)}`);
  editor.camera = cameraId;
  editor.classes = data.classes;
  editor.zones = structuredClone(data.zones);
  $("z-results").replaceChildren();
  editor.selected = 0;
  editor.door = null;
  const image = $("z-image");
  if (data.snapshot_url && data.snapshot_url.startsWith("http")) { image.src = data.snapshot_url; image.hidden = false; }
  else { image.removeAttribute("src"); image.hidden = true; }
  $("z-status").textContent = data.snapshot_url ? "" : t("no snapshot of this camera yet: drawing on a blank frame");
  drawZones();
}

async function saveZones() {
  try {
    const saved = await api(`/api/v1/zones/${encodeURIComponent(editor.camera)}`, {
      method: "PUT", headers: { "content-type": "application/json" }, body: JSON.stringify({ zones: editor.zones }),
    });
    editor.zones = structuredClone(saved.zones);
    drawZones();
    const said = t("saved {count} zone(s) of {camera}", { count: saved.zones.length, camera: editor.camera });
    $("z-status").textContent = saved.pushed_version
      ? `${said}; ${t("sent to box {box} (version {version}); the camera board shows when it runs them", { box: saved.edge_id, version: saved.pushed_version })}`
      : `${said}; ${saved.push_error || ""}`;
  } catch (e) {
    $("z-status").textContent = t("not saved: {why}", { why: e.message });
  }
}

export function bindZoneEditor() {
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
  $("z-test").onclick = () => testZone();
}
