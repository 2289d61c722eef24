// The page's copy of the server's state: workers, incidents and
// assignments, loaded from a snapshot and kept current by applying stream
// events in sequence order (the engine's event types, dispatch/events.go).
import { isActive, stateOf, ENGAGED_STATES } from './domain.js';

export class Model {
  constructor() {
    this.workers = new Map();
    this.incidents = new Map();
    this.assignments = new Map();
    this.seq = 0;
  }

  // load replaces the state with a snapshot (or a worker's own view,
  // which may carry its one worker as "worker").
  load(snap) {
    this.workers = byID(snap.workers || (snap.worker ? [snap.worker] : []));
    this.incidents = byID(snap.incidents);
    this.assignments = byID(snap.assignments);
    this.seq = snap.last_seq ?? snap.seq ?? 0;
  }

  // apply folds one event into the state and returns what it touched.
  apply(ev) {
    this.seq = Math.max(this.seq, ev.seq);
    const [kind, what] = ev.type.split('.');
    const data = ev.data || {};
    switch (kind) {
      case 'worker':
        upsert(this.workers, ev.worker_id || data.id, data);
        break;
      case 'incident':
        upsert(this.incidents, ev.incident_id || data.id, data);
        break;
      case 'assignment':
        // Steps after the offer carry what changed; the event names the
        // assignment, its incident, worker and region.
        this.applyAssignment(ev.assignment_id || data.id, {
          id: ev.assignment_id, incident_id: ev.incident_id, worker_id: ev.worker_id, region: ev.region, ...data,
        });
        break;
      case 'need': {
        const inc = this.incidents.get(ev.incident_id);
        const slot = inc?.slots?.[data.slot];
        if (slot && what === 'unfilled') slot.unfilled = true;
        if (slot && what === 'widened') slot.widened = true;
        break;
      }
    }
  }

  applyAssignment(id, data) {
    if (!id) return;
    const prev = this.assignments.get(id);
    // Events leave the runners-up out (they go to the worker too); keep
    // the ones a snapshot or a detail read brought.
    const runners = prev?.explanation?.runners_up;
    upsert(this.assignments, id, data);
    const a = this.assignments.get(id);
    if (runners && a.explanation && !a.explanation.runners_up) a.explanation = { ...a.explanation, runners_up: runners };
    const slot = this.incidents.get(a.incident_id)?.slots?.[a.slot];
    if (slot) slot.assignment = id;
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
    const cover = (inc.needs || []).map(() => ({ engaged: 0, offered: 0 }));
    for (const a of this.assignmentsOf(inc.id)) {
      const c = cover[a.need ?? 0];
      if (!c) continue;
      const s = stateOf(a);
      if (ENGAGED_STATES.includes(s) || s === 'completed') c.engaged++;
      else if (s === 'offered') c.offered++;
    }
    return cover;
  }

  // unfilledSlots lists the slots the engine flagged unfilled that still
  // have nobody on them; these are what a coordinator must act on.
  unfilledSlots(inc) {
    if (!isOpen(inc)) return [];
    return (inc.slots || []).filter((s) => {
      if (!s.unfilled) return false;
      const a = this.assignments.get(s.assignment);
      return !a || !isActive(a);
    });
  }

  unfilled(inc) {
    return this.unfilledSlots(inc).length;
  }
}

function byID(list) {
  const m = new Map();
  for (const x of list || []) m.set(x.id, x);
  return m;
}

// upsert merges an event's fields into the record: events carry either
// the whole entity or the fields that changed (duty, position, status).
function upsert(map, id, data) {
  if (!id) return;
  const prev = map.get(id) || { id };
  map.set(id, { ...prev, ...data, id });
}

// Readers of the server's JSON.

export function position(x) {
  const p = x?.position;
  return p && Number.isFinite(p.lat) && Number.isFinite(p.lng) ? p : null;
}

export function onDuty(w) {
  return w.on_duty === true;
}

export function isOpen(inc) {
  return inc.status === 'open' || inc.status === 'staffed' || !inc.status;
}

export function isEnded(inc) {
  return inc.status === 'closed' || inc.status === 'cancelled';
}

export function homeRegion(w) {
  return w.home_region;
}
