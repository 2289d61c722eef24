// The live feed: one line per event worth a coordinator's eye, newest
// first. Items keep their event so a language switch re-renders them.
import { h, clear } from '../dom.js';
import { t } from '../i18n.js';
import { severity } from '../domain.js';

const MAX_ITEMS = 200;
// Position updates arrive every 30 s from every worker and roster loads
// come in bulk; they change the map, not the feed.
const QUIET = new Set(['worker.position', 'worker.upserted']);

export class Feed {
  constructor(el, model, { onIncidentClick }) {
    this.el = el;
    this.model = model;
    this.onIncidentClick = onIncidentClick;
    this.items = [];
  }

  add(ev) {
    if (QUIET.has(ev.type)) return;
    const text = describe(ev, this.model);
    if (!text) return;
    this.el.querySelector('li.empty')?.remove();
    this.items.unshift({ ev, text });
    if (this.items.length > MAX_ITEMS) this.items.pop();
    this.el.prepend(this.row(this.items[0]));
    while (this.el.children.length > MAX_ITEMS) this.el.lastChild.remove();
  }

  row({ ev, text }) {
    const time = new Date(ev.time || Date.now());
    return h(
      'li',
      { class: `feed-${ev.type.replace(/\./g, '-')}`, dataset: { seq: ev.seq, type: ev.type } },
      h('time', { datetime: time.toISOString() }, time.toLocaleTimeString('zh-CN', { hour12: false })),
      ' ',
      ev.incident_id ? h('a', { href: '#', onclick: (e) => { e.preventDefault(); this.onIncidentClick(ev.incident_id); } }, text) : text,
    );
  }

  rerender() {
    for (const it of this.items) it.text = describe(it.ev, this.model) || it.text;
    clear(this.el, this.items.map((it) => this.row(it)));
    if (!this.items.length) this.el.append(h('li.empty', {}, t('feed.empty')));
  }
}

export function incidentLabel(inc, id) {
  if (!inc) return `#${shortID(id)}`;
  return `${t(`type.${inc.type}`)} ${severity(inc.severity)} · ${t(`region.${inc.region}`)} #${shortID(inc.id)}`;
}

// shortID keeps ids readable in one line; long generated ids are cut to
// their last characters, which differ between neighbours.
export function shortID(id) {
  const s = String(id || '');
  return s.length > 8 ? s.slice(-6) : s;
}

function workerName(model, id) {
  const w = model.workers.get(id);
  return w?.name || id || '?';
}

function describe(ev, model) {
  const d = ev.data || {};
  const inc = model.incidents.get(ev.incident_id);
  const a = model.assignments.get(ev.assignment_id);
  const worker = workerName(model, ev.worker_id || a?.worker_id);
  const incident = incidentLabel(inc, ev.incident_id || a?.incident_id);
  const [kind, what] = ev.type.split('.');
  switch (kind) {
    case 'incident':
      if (what === 'created') return t('feed.incidentCreated', { incident });
      return t('feed.incidentStatus', { incident, status: t(`status.${d.status || what}`) }) + (d.reason ? ` · ${d.reason}` : '');
    case 'assignment': {
      const by = d.chosen_by && d.chosen_by !== 'matcher' && what === 'offered' ? t('feed.manual', { who: d.chosen_by }) : '';
      const why = d.end_reason && (what === 'declined' || what === 'cancelled') ? ` · ${d.end_reason}` : '';
      return t('feed.assignment', { worker, incident, state: t(`state.${d.state || what}`) }) + by + why;
    }
    case 'need':
      return what === 'unfilled' ? t('feed.unfilled', { incident, skill: t(`skill.${d.skill || 'any'}`) }) : t('feed.widened', { incident });
    case 'override':
      return t(what === 'assigned' ? 'feed.overrideAssigned' : 'feed.overrideUnassigned', { who: d.coordinator, worker, incident })
        + (d.forced ? ` ⚠ ${t('feed.forced')}` : '') + (d.reason ? ` · ${d.reason}` : '');
    case 'surge':
      return t('feed.surge', { filled: d.filled, slots: d.slots, saved: Math.round((d.saved_s || 0) / 60) });
    case 'worker':
      if (what === 'duty') return t('feed.duty', { worker, duty: t(d.on_duty ? 'duty.on' : 'duty.off') });
      return '';
    default:
      return ev.type;
  }
}
