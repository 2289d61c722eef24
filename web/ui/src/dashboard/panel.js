// The incident list and the incident panel: needs and their coverage,
// every assignment with the reason the matcher chose that worker (cost
// terms and runner-ups), and manual assign / unassign with a reason.
import { h, clear, option } from '../dom.js';
import { t } from '../i18n.js';
import { severity, stateOf, isActive, SEVERITIES } from '../domain.js';
import { assign, unassign } from '../api.js';
import { incidentLabel, shortID } from './feed.js';
import { position } from '../model.js';

export function renderList(el, model, onOpen) {
  const open = [...model.incidents.values()].filter((i) => i.status !== 'closed' && i.status !== 'cancelled');
  open.sort((a, b) => SEVERITIES.indexOf(severity(a.severity)) - SEVERITIES.indexOf(severity(b.severity)) || String(b.created_at || b.id).localeCompare(String(a.created_at || a.id)));
  if (!open.length) return clear(el, h('p.muted.empty', {}, t('incidents.empty')));
  clear(
    el,
    h('ul.incident-list', {}, open.map((inc) => {
      const sev = severity(inc.severity);
      const unfilled = model.unfilled(inc);
      const total = (inc.needs || []).reduce((n, x) => n + x.count, 0);
      const engaged = model.needCoverage(inc).reduce((n, c) => n + c.engaged, 0);
      return h(
        'li',
        { dataset: { incident: inc.id }, class: unfilled ? 'has-unfilled' : '', onclick: () => onOpen(inc.id), tabindex: 0,
          onkeydown: (e) => e.key === 'Enter' && onOpen(inc.id) },
        h(`span.sev.sev-${sev}`, {}, sev),
        h('span.grow', {}, h('strong', {}, t(`type.${inc.type}`)), ' ', h('span.muted', {}, `${t(`region.${inc.region}`)} #${shortID(inc.id)}`)),
        h('span.small', {}, t('incidents.needs', { filled: engaged, total })),
        unfilled ? h('span.badge.unfilled-badge', { title: t('panel.unfilled') }, `${t('panel.unfilled')} ${unfilled}`) : null,
        h(`span.status.status-${inc.status || 'open'}`, {}, t(`status.${inc.status || 'open'}`)),
      );
    })),
  );
}

export function renderDetail(el, model, id, { onBack }) {
  const inc = model.incidents.get(id);
  if (!inc) return clear(el, h('p.muted', {}, '…'));
  const sev = severity(inc.severity);
  const cover = model.needCoverage(inc);
  const unfilledSlots = model.unfilledSlots(inc);
  const list = model.assignmentsOf(id).sort((a, b) => Number(isActive(b)) - Number(isActive(a)));
  clear(
    el,
    h('button.link.back', { type: 'button', onclick: onBack }, t('panel.back')),
    h('h2.detail-title', { dataset: { incident: id } }, h(`span.sev.sev-${sev}`, {}, sev), ' ', incidentLabel(inc, id)),
    h('p', {}, h(`span.status.status-${inc.status || 'open'}`, {}, t(`status.${inc.status || 'open'}`)),
      inc.needs_supervisor ? h('span.tag', {}, t('panel.supervisor')) : null,
      inc.pilot ? h('span.tag', {}, t('map.xiongan')) : null),
    inc.notes ? h('p.notes', {}, inc.notes) : null,
    h('ul.needs-list', {}, (inc.needs || []).map((n, i) => {
      const c = cover[i] || { engaged: 0, offered: 0 };
      const unfilled = unfilledSlots.filter((sl) => sl.need === i).length;
      return h('li', { class: unfilled ? 'short' : '', dataset: { need: i } },
        `${n.supervisor ? t('need.supervisor') : ''}${n.skill ? t(`skill.${n.skill}`) : n.supervisor ? '' : t('skill.any')} · ${c.engaged}/${n.count}`,
        c.offered ? h('span.muted', {}, ` (+${c.offered} ${t('state.offered')})`) : null,
        h('span.muted', {}, ` · ≥ ${t(`cert.${n.min_cert || 'none'}`)}`),
        unfilled ? h('span.badge.unfilled-badge', {}, `${t('panel.unfilled')} ${unfilled}`) : null);
    })),
    h('h3', {}, t('panel.assignments')),
    list.length ? h('ul.assignments', {}, list.map((a) => assignmentItem(a, model))) : h('p.muted', {}, t('panel.noAssignments')),
    assignForm(inc, model),
  );
}

function assignmentItem(a, model) {
  const w = model.workers.get(a.worker_id);
  const state = stateOf(a);
  const by = a.chosen_by || a.by || 'matcher';
  return h(
    'li.assignment',
    { dataset: { assignment: a.id, state, worker: a.worker_id } },
    h('div.row', {},
      h('strong', {}, w?.name || a.worker_id),
      h('span.muted', {}, ` ${a.worker_id}`),
      h(`span.state.state-${state}`, {}, t(`state.${state}`)),
      isActive(a) ? unassignButton(a) : null),
    h('div.small.muted', {}, t('panel.by', { who: by === 'matcher' ? t('panel.byMatcher') : by }), a.reason ? ` · ${a.reason}` : ''),
    explanation(a, model),
  );
}

// explanation shows the cost terms the matcher added up for this worker
// and the next-best candidates it passed over.
// Which explanations are open survives the panel's redraws.
const openWhy = new Set();

// onNeedRunners is set by the page: it reads an assignment's runners-up,
// which events leave out.
let onNeedRunners = () => {};
export function setRunnersLoader(fn) {
  onNeedRunners = fn;
}

// explanation shows the cost terms the matcher added up for this worker
// (seconds of travel-time equivalent) and the runners-up it passed over.
function explanation(a, model) {
  const x = a.explanation;
  if (!x || !x.cost) return null;
  const c = x.cost;
  const rows = [
    ['distance_m', km(c.distance_m)],
    ['travel_s', minutes(c.travel_s)],
    ['severity_weight', `× ${num(c.severity_weight)}`],
    ['region_penalty_s', minutes(c.region_penalty_s)],
    ['workload_penalty_s', minutes(c.workload_penalty_s)],
    ['total_s', minutes(c.total_s)],
  ];
  const runners = x.runners_up || [];
  return h(
    'details.why',
    {
      open: openWhy.has(a.id),
      ontoggle: (e) => {
        if (!e.target.open) return openWhy.delete(a.id);
        openWhy.add(a.id);
        if (!x.runners_up) onNeedRunners(a.id);
      },
    },
    h('summary', {}, t('panel.why'), h('span.muted', {}, ` · ${t(`mode.${x.mode || 'single'}`)} · ${t('panel.cost', { cost: minutes(c.total_s) })}`)),
    h('table.terms', {}, rows.map(([k, v]) => h('tr', { class: k === 'total_s' ? 'total' : '' }, h('th', {}, t(`term.${k}`)), h('td', {}, v)))),
    h('p.small.muted', {}, c.local ? t('term.local') : t('term.mutual'), x.widened ? ` · ${t('panel.widened')}` : ''),
    x.violations?.length
      ? h('p.small.error', {}, `${t('panel.violations')}: `, x.violations.map((v) => t(`viol.${v}`)).join('、'))
      : null,
    runners.length
      ? h('div.runners', {}, h('span.label', {}, t('panel.runnerUps')),
        h('ol', {}, runners.map((r) => h('li', {}, `${model.workers.get(r.worker_id)?.name || r.worker_id} · ${minutes(r.cost?.total_s)} · ${km(r.cost?.distance_m)}`))))
      : null,
  );
}

const num = (v) => (Number.isFinite(v) ? (Math.abs(v) >= 100 ? v.toFixed(0) : v.toFixed(2)) : '–');
const minutes = (s) => (Number.isFinite(s) ? t('common.min', { n: (s / 60).toFixed(1) }) : '–');
const km = (m) => (Number.isFinite(m) ? t('common.km', { n: (m / 1000).toFixed(1) }) : '–');

function unassignButton(a) {
  return h('button.link.danger', {
    type: 'button',
    dataset: { action: 'unassign' },
    onclick: (e) => {
      const li = e.target.closest('li');
      if (li.querySelector('form.unassign')) return;
      const reason = h('input', { name: 'reason', required: true, placeholder: t('panel.reason'), 'aria-label': t('panel.reason') });
      const msg = h('span.error.small');
      li.append(h('form.unassign.inline', {
        onsubmit: async (ev) => {
          ev.preventDefault();
          if (!reason.value.trim()) return (msg.textContent = t('panel.reasonRequired'));
          try {
            await unassign(a.id, reason.value.trim());
            document.activeElement?.blur();
            ev.target.remove();
          } catch (err) {
            msg.textContent = t('common.error', { msg: err.message });
          }
        },
      }, reason, h('button.danger', { type: 'submit' }, t('panel.unassign')), msg));
      reason.focus();
    },
  }, t('panel.unassign'));
}

// nearestWorkers offers the closest on-duty workers as suggestions; any
// worker id may still be typed.
function nearestWorkers(inc, model, n) {
  const at = position(inc);
  const out = [];
  for (const w of model.workers.values()) {
    const p = position(w);
    if (p && at) out.push([Math.hypot(p.lat - at.lat, (p.lng - at.lng) * Math.cos((at.lat * Math.PI) / 180)), w]);
  }
  out.sort((a, b) => a[0] - b[0]);
  return out.slice(0, n).map(([, w]) => w);
}

function assignForm(inc, model) {
  const workers = nearestWorkers(inc, model, 60);
  const listID = `workers-${inc.id}`;
  const worker = h('input', { name: 'worker_id', list: listID, required: true, autocomplete: 'off', 'aria-label': t('panel.worker'), placeholder: t('panel.worker') });
  const need = h('select', { name: 'need', 'aria-label': t('panel.need') },
    (inc.needs || []).map((n, i) => option(String(i), `${i + 1}. ${n.skill ? t(`skill.${n.skill}`) : t('need.supervisor')}`)));
  const reason = h('input', { name: 'reason', placeholder: t('panel.reason'), 'aria-label': t('panel.reason') });
  const override = h('input', { type: 'checkbox', name: 'override' });
  const msg = h('p.error.small', { role: 'alert' });
  return h(
    'form.assign-form',
    {
      onsubmit: async (e) => {
        e.preventDefault();
        msg.textContent = '';
        if (override.checked && !reason.value.trim()) return (msg.textContent = t('panel.reasonRequired'));
        try {
          await assign(inc.id, {
            worker_id: worker.value.trim(),
            need_index: Number(need.value),
            reason: reason.value.trim(),
            force: override.checked,
          });
          e.target.reset();
          // Leaving the form lets the panel redraw with the new offer.
          document.activeElement?.blur();
        } catch (err) {
          msg.textContent = err.violations.length
            ? `${t('panel.violations')}: ${err.violations.map((v) => t(`viol.${v}`)).join('、')}`
            : t('common.error', { msg: err.field ? `${err.field}: ${err.message}` : err.message });
          msg.dataset.code = err.code;
        }
      },
    },
    h('h3', {}, t('panel.assign')),
    h('datalist', { id: listID }, workers.map((w) => option(w.id, `${w.name || ''} · ${t(`region.${w.home_region}`)}`))),
    h('div.row', {}, worker, need),
    reason,
    h('label.check', {}, override, ' ', t('panel.override')),
    msg,
    h('button.primary', { type: 'submit' }, t('panel.assign')),
  );
}
