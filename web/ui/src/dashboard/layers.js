// The live layers of the dashboard map: available workers aggregated into
// H3 hexagons (individual workers when zoomed in), incidents coloured by
// severity with unfilled needs pulsing, and lines from assigned workers to
// their incidents.
import L from 'leaflet';
import { latLngToCell, cellToBoundary } from 'h3-js';
import { t } from '../i18n.js';
import { severity, isActive, stateOf } from '../domain.js';
import { position, homeRegion, onDuty, isEnded } from '../model.js';
import { escapeHTML } from './basemap.js';

// From this zoom on, workers are drawn one by one instead of as hexagons.
const INDIVIDUAL_ZOOM = 11;

// h3Resolution keeps a hexagon around 20–40 px wide at every zoom.
export function h3Resolution(zoom) {
  return Math.max(3, Math.min(8, Math.round(zoom) - 3));
}

const HEX_STEPS = [
  [10, '#00682c'],
  [5, '#2e9e4f'],
  [2, '#74c476'],
  [1, '#b8e3ad'],
];

export function hexColour(n) {
  for (const [min, c] of HEX_STEPS) if (n >= min) return c;
  return 'transparent';
}

const LINE_STYLE = {
  offered: { color: '#5b6f89', weight: 2, dashArray: '5 5' },
  accepted: { color: '#1f5fbf', weight: 3 },
  en_route: { color: '#1f5fbf', weight: 3 },
  on_scene: { color: '#1b7a3a', weight: 3 },
};

export class LiveLayers {
  constructor(map, model, { onIncidentClick }) {
    this.map = map;
    this.model = model;
    this.onIncidentClick = onIncidentClick;
    this.filter = { skill: '', region: '' };
    // Own panes keep the stacking fixed: outlines, then hexagons and
    // workers, then lines, then incident markers (Leaflet's marker pane).
    map.createPane('live-density').style.zIndex = 410;
    map.createPane('live-lines').style.zIndex = 450;
    this.canvas = L.canvas({ padding: 0.3, pane: 'live-density' });
    this.lineRenderer = L.svg({ pane: 'live-lines' });
    this.hexes = L.layerGroup().addTo(map);
    this.workers = L.layerGroup().addTo(map);
    this.lines = L.layerGroup().addTo(map);
    this.incidents = L.layerGroup().addTo(map);
    this.incidentMarkers = new Map();
    this.pending = false;
    map.on('zoomend', () => this.drawWorkers());
  }

  setFilter(f) {
    Object.assign(this.filter, f);
    this.drawWorkers();
  }

  // redraw coalesces bursts of events into one draw per animation frame.
  redraw() {
    if (this.pending) return;
    this.pending = true;
    requestAnimationFrame(() => {
      this.pending = false;
      this.drawWorkers();
      this.drawIncidents();
      this.drawLines();
    });
  }

  matches(w) {
    const { skill, region } = this.filter;
    if (skill && !(w.skills || []).includes(skill)) return false;
    if (region && homeRegion(w) !== region) return false;
    return true;
  }

  drawWorkers() {
    this.hexes.clearLayers();
    this.workers.clearLayers();
    const zoom = this.map.getZoom();
    if (zoom >= INDIVIDUAL_ZOOM) return this.drawIndividuals();
    const res = h3Resolution(zoom);
    const counts = new Map();
    for (const w of this.model.workers.values()) {
      if (!this.matches(w) || !this.model.isAvailable(w)) continue;
      const p = position(w);
      const cell = latLngToCell(p.lat, p.lng, res);
      counts.set(cell, (counts.get(cell) || 0) + 1);
    }
    for (const [cell, n] of counts) {
      const poly = L.polygon(cellToBoundary(cell), {
        renderer: this.canvas,
        pane: 'live-density',
        color: '#0b4d24',
        weight: 0.8,
        fillColor: hexColour(n),
        fillOpacity: 0.7,
      });
      poly.bindTooltip(t('map.workersHere', { n }), { sticky: true });
      this.hexes.addLayer(poly);
    }
    this.map.getContainer().dataset.hexCells = String(counts.size);
  }

  drawIndividuals() {
    for (const w of this.model.workers.values()) {
      const p = position(w);
      if (!p || !onDuty(w) || !this.matches(w)) continue;
      const busy = Boolean(this.model.activeAssignmentOf(w.id));
      const m = L.circleMarker([p.lat, p.lng], {
        renderer: this.canvas,
        pane: 'live-density',
        radius: 6,
        color: '#fff',
        weight: 1.5,
        fillColor: busy ? '#1f5fbf' : '#2e9e4f',
        fillOpacity: 1,
      });
      m.bindTooltip(`${escapeHTML(w.name || w.id)} · ${escapeHTML(t(`cert.${w.cert || 'none'}`))}`);
      this.workers.addLayer(m);
    }
  }

  drawIncidents() {
    const seen = new Set();
    for (const inc of this.model.incidents.values()) {
      const p = position(inc);
      if (!p || isEnded(inc)) continue;
      seen.add(inc.id);
      const sev = severity(inc.severity);
      const unfilled = this.model.unfilled(inc);
      const key = `${sev}|${unfilled > 0}|${p.lat},${p.lng}`;
      const old = this.incidentMarkers.get(inc.id);
      if (old && old.key === key) continue;
      if (old) this.incidents.removeLayer(old.marker);
      const marker = L.marker([p.lat, p.lng], { icon: incidentIcon(inc.id, sev, unfilled), riseOnHover: true, zIndexOffset: 1000 });
      marker.on('click', () => this.onIncidentClick(inc.id));
      this.incidents.addLayer(marker);
      this.incidentMarkers.set(inc.id, { marker, key });
    }
    for (const [id, { marker }] of this.incidentMarkers) {
      if (seen.has(id)) continue;
      this.incidents.removeLayer(marker);
      this.incidentMarkers.delete(id);
    }
  }

  drawLines() {
    this.lines.clearLayers();
    for (const a of this.model.assignments.values()) {
      if (!isActive(a)) continue;
      const w = this.model.workers.get(a.worker_id);
      const inc = this.model.incidents.get(a.incident_id);
      const from = position(w);
      const to = position(inc);
      if (!from || !to) continue;
      const line = L.polyline([[from.lat, from.lng], [to.lat, to.lng]], {
        ...LINE_STYLE[stateOf(a)],
        renderer: this.lineRenderer,
        pane: 'live-lines',
        className: `assign-line state-${stateOf(a)}`,
      });
      line.bindTooltip(`${escapeHTML(w?.name || a.worker_id)} · ${escapeHTML(t(`state.${stateOf(a)}`))}`);
      this.lines.addLayer(line);
    }
  }

  focus(id) {
    const inc = this.model.incidents.get(id);
    const p = inc && position(inc);
    if (p) this.map.panTo([p.lat, p.lng]);
  }
}

function incidentIcon(id, sev, unfilled) {
  const cls = `incident sev-${sev}${unfilled > 0 ? ' unfilled' : ''}`;
  const badge = unfilled > 0 ? `<b class="badge">${unfilled}</b>` : '';
  return L.divIcon({
    className: cls,
    html: `<span data-incident="${escapeHTML(id)}">${sev}</span>${badge}`,
    iconSize: [30, 30],
    iconAnchor: [15, 15],
  });
}
