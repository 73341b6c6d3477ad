// The map: micro-grids shaded by their open cases (Leaflet, the town's tile server if any),
// communities outlined, cameras with open cases marked. A click on a grid filters the desk.
import { api } from "./common.js";
import { OPEN, cases } from "./cases.js";

let map = null, mapLayers = null;

function shade(open) {
  return open === 0 ? "#5aa469" : open <= 2 ? "#e8a33d" : "#c8442f";
}

export async function loadMap(gridInfo, pick) {
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
      layer.on("click", () => pick(f.properties.id));
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
