// The page's copy of the server's state: workers, incidents and
// assignments, loaded from a snapshot and kept current by applying stream
// events in sequence order. Field access goes through the small readers at
// the bottom so a change in the server's JSON is a change here only.
import { isActive, stateOf, ENGAGED_STATES } from './domain.js';

export class Model {
  constructor() {
    this.workers = new Map();
    this.incidents = new Map();
    this.assignments = new Map();
    this.seq = 0;
  }

  load(snap) {
    this.workers = byID(snap.workers);
    this.incidents = byID(snap.incidents);
    this.assignments = byID(snap.assignments);
    this.seq = snap.last_seq ?? snap.seq ?? 0;
  }

  // apply folds one event into the state and returns what it touched.
  apply(ev) {
    this.seq = Math.max(this.seq, ev.seq);
    const kind = ev.type.split('.')[0];
    const data = ev.data || {};
    const touched = { kind, worker: ev.worker_id, incident: ev.incident_id, assignment: ev.assignment_id };
    switch (kind) {
      case 'worker':
        if (ev.worker_id || data.id) upsert(this.workers, ev.worker_id || data.id, data.worker || data);
        break;
      case 'incident':
        if (ev.incident_id || data.id) upsert(this.incidents, ev.incident_id || data.id, data.incident || data);
        break;
      case 'assignment':
        if (ev.assignment_id || data.id) {
          upsert(this.assignments, ev.assignment_id || data.id, data.assignment || data);
          const a = this.assignments.get(ev.assignment_id || data.id);
          touched.worker ??= a.worker_id;
          touched.incident ??= a.incident_id;
        }
        if (data.incident) upsert(this.incidents, data.incident.id, data.incident);
        break;
    }
    return touched;
  }

  assignmentsOf(incidentID) {
    return [...this.assignments.values()].filter((a) => a.incident_id === incidentID);
  }

  activeAssignmentOf(workerID) {
    for (const a of this.assignments.values()) if (a.worker_id === workerID && isActive(a)) return a;
    return null;
  }

  // available: on duty, with a position, and holding no active assignment.
  isAvailable(w) {
    return onDuty(w) && Boolean(position(w)) && !this.activeAssignmentOf(w.id);
  }

  // needCoverage returns, per need, how many workers are engaged or offered.
  needCoverage(inc) {
    const needs = inc.needs || [];
    const cover = needs.map(() => ({ engaged: 0, offered: 0 }));
    for (const a of this.assignmentsOf(inc.id)) {
      const i = a.need_index ?? a.need ?? 0;
      if (!cover[i]) continue;
      const s = stateOf(a);
      if (ENGAGED_STATES.includes(s) || s === 'completed') cover[i].engaged++;
      else if (s === 'offered') cover[i].offered++;
    }
    return cover;
  }

  // unfilled counts the places the server flagged unfilled, or else the
  // open places with neither a worker nor an outstanding offer.
  unfilled(inc) {
    if (!isOpen(inc)) return 0;
    if (Array.isArray(inc.unfilled)) return inc.unfilled.length;
    if (typeof inc.unfilled === 'number') return inc.unfilled;
    const cover = this.needCoverage(inc);
    return (inc.needs || []).reduce((n, need, i) => {
      const flagged = need.unfilled ? need.count : 0;
      return n + Math.max(flagged, need.count - cover[i].engaged - cover[i].offered, 0);
    }, 0);
  }
}

function byID(list) {
  const m = new Map();
  for (const x of list || []) m.set(x.id, x);
  return m;
}

function upsert(map, id, data) {
  if (!id) return;
  const prev = map.get(id) || { id };
  map.set(id, { ...prev, ...data, id });
}

// Readers of the server's JSON.

export function position(x) {
  const p = x?.position || x?.pos || x?.location;
  if (p && Number.isFinite(p.lat) && Number.isFinite(p.lng)) return p;
  if (Number.isFinite(x?.lat) && Number.isFinite(x?.lng)) return { lat: x.lat, lng: x.lng };
  return null;
}

export function onDuty(w) {
  if (typeof w.on_duty === 'boolean') return w.on_duty;
  return w.duty === 'on' || w.duty === 'on_duty' || w.duty_state === 'on';
}

export function isOpen(inc) {
  return inc.status === 'open' || inc.status === 'staffed' || !inc.status;
}

export function homeRegion(w) {
  return w.home_region || w.region;
}
