// The map: micro-grids shaded by their open cases (Leaflet, the town's tile server if any:
// Tianditu, AMap or its own), communities outlined, cameras with open cases marked. A click on
// a grid filters the desk. Grid files and cameras are WGS-84/CGCS2000; on GCJ-02 tiles (AMap,
// Tencent) they are converted for display with gcoord, so a boundary lies on its street.
import { api, t } from "./common.js";
import { OPEN, cases } from "./cases.js";

let map = null, mapLayers = null, shift = (lonLat) => lonLat;

/** [lon, lat] from the grid file's datum to the tiles' (identity unless the tiles are GCJ-02). */
export function toTiles(crs) {
  return crs === "gcj02" ? (lonLat) => gcoord.transform(lonLat, gcoord.WGS84, gcoord.GCJ02) : (lonLat) => lonLat;
}

function shifted(geojson) {
  return { ...geojson, features: geojson.features.map((f) => ({ ...f, geometry: f.geometry && {
    ...f.geometry, coordinates: JSON.parse(JSON.stringify(f.geometry.coordinates), function (key, value) {
      return Array.isArray(value) && typeof value[0] === "number" ? shift(value) : value;
    }) } })) };
}

function shade(open) {
  return open === 0 ? "#5aa469" : open <= 2 ? "#e8a33d" : "#c8442f";
}

export async function loadMap(gridInfo, pick) {
  if (!map) {
    map = L.map("map-view", { zoomSnap: 0.25 });
    const settings = gridInfo?.map || {};
    const options = { attribution: settings.attribution || "", subdomains: settings.subdomains || "abc", maxZoom: 18 };
    if (settings.tiles) L.tileLayer(settings.tiles, options).addTo(map);
    else map.getContainer().classList.add("plain"); // no tile server: the grids on a plain background
    if (settings.tiles && settings.labels) L.tileLayer(settings.labels, { ...options, attribution: "" }).addTo(map);
    shift = toTiles(settings.crs);
    map.getContainer().dataset.crs = settings.crs || "wgs84";
    mapLayers = L.layerGroup().addTo(map);
  }
  map.invalidateSize();
  const areas = shifted(await api("/api/v1/grid/areas"));
  mapLayers.clearLayers();
  const cells = L.geoJSON(areas, {
    filter: (f) => f.properties.level === "micro_grid",
    style: (f) => ({ color: "#1d2330", weight: 1, fillColor: shade(f.properties.open_cases), fillOpacity: 0.55 }),
    onEachFeature: (f, layer) => {
      layer.bindTooltip(t("{grid}: {count} open", { grid: `${f.properties.id} ${f.properties.name || ""}`.trim(), count: f.properties.open_cases }),
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
    const [lon, lat] = shift([cam.lon, cam.lat]);
    L.circleMarker([lat, lon], { radius: 6, color: "#1d2330", fillColor: "#fff", fillOpacity: 1, weight: 2 })
      .bindTooltip(t("{grid}: {count} open", { grid: cam.id, count: cam.n })).addTo(mapLayers);
  }
  if (cells.getLayers().length) map.fitBounds(cells.getBounds(), { padding: [20, 20] });
  // drawn once the map has a view: name each cell's path (what the tests and styles find)
  for (const layer of cells.getLayers()) layer.getElement()?.setAttribute("data-grid", layer.feature.properties.id);
}
