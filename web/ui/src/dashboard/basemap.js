// The offline base map: province outlines of Beijing, Tianjin and Hebei
// (with Hebei's prefectures and the neighbouring provinces for context),
// drawn as vectors so no tile server is needed. An optional raster tile
// layer is added only when the server is configured with one.
import L from 'leaflet';
import outlines from '../gen/outlines.json';
import { t } from '../i18n.js';

// Region fills are light so the live layers on top stay readable.
const REGION_STYLE = {
  BJ: { color: '#7a4b9a', fillColor: '#eadcf3' },
  TJ: { color: '#2f6f9f', fillColor: '#dbe9f5' },
  HE: { color: '#4f7a3a', fillColor: '#e5f0dc' },
};

// The pilot zone's three counties (Xiong, Rongcheng, Anxin) lie within
// roughly 20 km of this point; the outline data has no county shapes, so it
// is shown as an approximate circle.
export const XIONGAN = { lat: 39.0, lng: 115.93, radiusM: 20000 };

export const JJJ_BOUNDS = L.latLngBounds([36.0, 113.4], [42.7, 119.9]);

export function createBaseMap(el) {
  const map = L.map(el, {
    zoomSnap: 0.25,
    minZoom: 6,
    maxZoom: 16,
    maxBounds: JJJ_BOUNDS.pad(0.6),
    attributionControl: true,
    preferCanvas: false,
  });
  map.attributionControl.setPrefix('');
  map.fitBounds(JJJ_BOUNDS, { padding: [8, 8] });

  const tileURL = document.querySelector('meta[name="dispatch-tile-url"]')?.content;
  if (tileURL) {
    const attribution = document.querySelector('meta[name="dispatch-tile-attribution"]')?.content || '';
    L.tileLayer(tileURL, { attribution, maxZoom: 18, opacity: 0.85 }).addTo(map);
  }

  const canvas = L.canvas({ padding: 0.2 });
  const outlineLayer = L.geoJSON(outlines, {
    renderer: canvas,
    interactive: false,
    style: (f) => styleFor(f.properties, Boolean(tileURL)),
  }).addTo(map);
  outlineLayer.bringToBack();

  const labels = L.layerGroup().addTo(map);
  const drawLabels = () => {
    labels.clearLayers();
    for (const f of outlines.features) {
      const p = f.properties;
      if (p.kind !== 'region') continue;
      const [lng, lat] = labelPoint(p);
      const text = t(`region.${p.region}`);
      labels.addLayer(L.marker([lat, lng], { icon: labelIcon(text, 'region-label'), interactive: false, keyboard: false }));
    }
    labels.addLayer(L.marker([XIONGAN.lat - 0.2, XIONGAN.lng], { icon: labelIcon(t('map.xiongan'), 'xiongan-label'), interactive: false, keyboard: false }));
  };
  L.circle([XIONGAN.lat, XIONGAN.lng], {
    radius: XIONGAN.radiusM,
    color: '#c0392b',
    weight: 1.5,
    dashArray: '4 4',
    fillOpacity: 0.06,
    interactive: false,
  }).addTo(map);
  drawLabels();
  map.attributionControl.addAttribution('边界为示意 · outlines approximate');
  return { map, redrawLabels: drawLabels };
}

function styleFor(p, withTiles) {
  const fill = withTiles ? 0.15 : 1;
  if (p.kind === 'region') {
    return { ...REGION_STYLE[p.region], weight: 2, fillOpacity: 0.85 * fill };
  }
  if (p.kind === 'city') return { color: '#8aa37c', weight: 0.7, fill: false, dashArray: '3 3' };
  return { color: '#b9bec4', weight: 1, fillColor: '#f1f1ef', fillOpacity: 0.9 * fill };
}

// Beijing's and Tianjin's label points sit at their seats of government;
// Hebei's at Shijiazhuang would collide with nothing but reads as the whole
// province only when moved toward its centre.
function labelPoint(p) {
  if (p.region === 'HE') return [115.6, 38.2];
  if (p.region === 'TJ') return [117.45, 39.2];
  return p.cp;
}

function labelIcon(text, cls) {
  return L.divIcon({ className: `map-label ${cls}`, html: escapeHTML(text), iconSize: null });
}

export function escapeHTML(s) {
  return String(s).replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}
