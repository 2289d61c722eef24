// The field worker's page: duty switch, the current offer with a
// countdown, accept or decline, then en route / on scene / done; the
// phone's position is shared while on duty. Every answer goes through the
// outbox, so it survives a dropped connection or a reloaded page.
import '../styles/base.css';
import '../styles/worker.css';
import { h, clear, $ } from '../dom.js';
import { t, applyStatic, toggleLang, onLangChange } from '../i18n.js';
import { signIn, signOut } from '../login.js';
import { showConn } from '../conn.js';
import { Stream } from '../stream.js';
import { workerView, serverNow } from '../api.js';
import { Model, position, onDuty } from '../model.js';
import { severity, stateOf } from '../domain.js';
import { Outbox } from './outbox.js';
import { Locator } from './locator.js';

// Error codes that say the server failed, not the message: such a message
// is kept and sent again.
const RETRY_CODES = new Set(['unavailable', 'internal']);

const NEXT = { accepted: ['en_route', 'worker.enRoute'], en_route: ['on_scene', 'worker.onScene'], on_scene: ['completed', 'worker.done'] };

const model = new Model();
let me = null;
let outbox = null;
let stream = null;
let locator = null;
let tick = null;
// Answers given on this phone but not yet confirmed by an event, so the
// page shows the worker's intent at once, online or not.
const local = { duty: null, states: new Map() };

async function main() {
  applyStatic(document);
  $('#lang').addEventListener('click', toggleLang);
  onLangChange(() => {
    showConn(stream?.status || 'connecting');
    render();
  });
  showConn('connecting');
  me = await signIn($('#login'));
  outbox = new Outbox(`dispatch.outbox.${me.worker_id}`, { onChange: renderOutbox });
  restoreIntent();
  locator = new Locator({ onFix: (fix) => sendPosition(fix), onState: render });
  await loadView();
  stream = new Stream({
    lastSeq: model.seq,
    onStatus: (s) => {
      showConn(s);
      if (s !== 'online') outbox.disconnected();
    },
    onOpen: () => outbox.connected((m) => stream.send(m)),
    onEvent: (ev) => {
      recent.push(ev);
      if (recent.length > 100) recent.shift();
      model.apply(ev);
      // A worker's stream carries its own events only; the incident of a
      // new offer comes with a fresh read of the worker's view.
      if (ev.incident_id && !model.incidents.has(ev.incident_id)) refreshSoon();
      settleIntent();
      render();
    },
    onReset: async () => {
      // Events seen before the reset may belong to a log the server no
      // longer has; only those from now on go on top of the new view.
      recent.length = 0;
      await loadView();
      stream.resetTo(model.seq);
    },
    onMessage: onServerMessage,
    // A revoked or expired credential: sign in again. Queued answers stay
    // in localStorage and go out once a valid credential is given.
    onAuthError: signOut,
  });
  stream.start();
  $('#duty').addEventListener('change', (e) => setDuty(e.target.checked));
  tick = setInterval(renderCountdown, 500);
  render();
}

let refreshing = null;
const recent = [];

function refreshSoon() {
  refreshing ??= loadView().finally(() => (refreshing = null));
}

async function loadView() {
  for (;;) {
    try {
      const v = await workerView(me.worker_id);
      model.load(v);
      // Events that arrived while the view was read and that it may not
      // include yet are applied again on top (applying is idempotent).
      for (const ev of recent) if (ev.seq > model.seq) model.apply(ev);
      settleIntent();
      render();
      return;
    } catch (err) {
      if (!err.network && err.status < 500) return showError(err.message);
      showConn('offline');
      await new Promise((r) => setTimeout(r, 2000));
    }
  }
}

function self() {
  return model.workers.get(me.worker_id) || { id: me.worker_id, name: me.name };
}

function dutyOn() {
  return local.duty ?? onDuty(self());
}

function setDuty(on) {
  local.duty = on;
  outbox.push({ type: 'duty', on_duty: on });
  render();
}

function sendPosition(fix) {
  if (!dutyOn()) return;
  outbox.push({ type: 'position', lat: fix.lat, lng: fix.lng, accuracy_m: Math.round(fix.accuracy) });
}

function answer(a, accept, reason) {
  local.states.set(a.id, accept ? 'accepted' : 'declined');
  outbox.push({ type: 'answer', assignment_id: a.id, accept, ...(reason ? { reason } : {}) });
  render();
}

function advance(a, status) {
  local.states.set(a.id, status);
  outbox.push({ type: 'status', assignment_id: a.id, status });
  render();
}

// restoreIntent replays queued answers into the local view after a reload.
function restoreIntent() {
  for (const m of outbox.pending()) {
    if (m.type === 'duty') local.duty = m.on_duty;
    if (m.type === 'answer') local.states.set(m.assignment_id, m.accept ? 'accepted' : 'declined');
    if (m.type === 'status') local.states.set(m.assignment_id, m.status);
  }
}

// settleIntent forgets local intent that the server state now reflects or
// that no queued message still carries.
function settleIntent() {
  const queued = outbox.pending();
  if (!queued.some((m) => m.type === 'duty')) local.duty = null;
  for (const id of [...local.states.keys()]) {
    if (!queued.some((m) => m.assignment_id === id)) local.states.delete(id);
  }
}

function onServerMessage(msg) {
  if (msg.type === 'ack' || msg.type === 'error') {
    if (msg.type === 'error' && RETRY_CODES.has(msg.error?.code)) {
      // The server could not apply it now (its fault, not the message's):
      // keep it and try again a little later, same id.
      outbox.retryLater(msg.id, 5000);
      showError(msg.error?.message || msg.error.code);
      return;
    }
    const m = outbox.settle(msg.id);
    if (m && msg.type === 'error') showError(msg.error?.message || msg.error?.code || 'error');
    if (m && msg.type === 'ack') showError('');
    settleIntent();
    render();
  }
}

function myAssignments() {
  return [...model.assignments.values()].filter((a) => a.worker_id === me.worker_id);
}

function effectiveState(a) {
  return local.states.get(a.id) || stateOf(a);
}

function render() {
  if (!me) return;
  const w = self();
  $('#name').textContent = w.name || me.name || '';
  $('#worker-id').textContent = me.worker_id;
  const on = dutyOn();
  $('#duty').checked = on;
  $('#duty-label').textContent = t(on ? 'duty.on' : 'duty.off');
  locator.enable(on);
  renderPosition();
  const mine = myAssignments();
  const offer = mine.find((a) => effectiveState(a) === 'offered' && !expired(a));
  const current = mine.find((a) => ['accepted', 'en_route', 'on_scene'].includes(effectiveState(a)));
  renderOffer(offer);
  renderCurrent(current);
  $('#idle').hidden = Boolean(offer || current);
  $('#idle-text').textContent = t(on ? 'worker.noOffer' : 'worker.offDutyHint');
  renderOutbox(outbox.size);
}

function renderPosition() {
  const s = locator.state;
  const el = $('#position');
  el.textContent = `${t('worker.position')}: ${
    s.denied ? t('worker.positionDenied') : s.fix && dutyOn() ? t('worker.positionOn', { acc: Math.round(s.fix.accuracy) }) : t('worker.positionOff')
  }`;
}

function incidentOf(a) {
  return model.incidents.get(a.incident_id) || { id: a.incident_id };
}

function summary(a) {
  const inc = incidentOf(a);
  const sev = severity(inc.severity);
  const need = inc.needs?.[a.need]?.skill;
  const here = locator.state.fix || position(self());
  const there = position(inc);
  const km = here && there ? distanceKm(here, there) : null;
  return [
    h('div.inc-head', {}, inc.severity ? h(`span.sev.sev-${sev}`, {}, sev) : null, ' ', h('strong', {}, inc.type ? t(`type.${inc.type}`) : '…'), inc.region ? h('span.muted', {}, ` · ${t(`region.${inc.region}`)}`) : null),
    need ? h('p', {}, t(`skill.${need}`)) : null,
    km !== null ? h('p.muted', {}, t('worker.distance', { km: km.toFixed(1) })) : null,
    inc.notes ? h('p.notes', {}, `${t('worker.notes')}: ${inc.notes}`) : null,
  ];
}

function renderOffer(a) {
  const el = $('#offer');
  el.hidden = !a;
  if (!a) {
    el.dataset.key = '';
    return clear(el);
  }
  // Redrawn only when the offer or what is known of its incident changes,
  // so the countdown bar keeps animating smoothly.
  const key = `${a.id}|${model.incidents.has(a.incident_id)}|${Boolean(locator.state.fix)}`;
  if (el.dataset.key === key) return renderCountdown();
  el.dataset.key = key;
  el.dataset.assignment = a.id;
  clear(
    el,
    h('h2', {}, t('worker.offer')),
    summary(a),
    h('div.countdown', {}, h('div.bar', {}, h('span#countdown-bar')), h('span#countdown-text')),
    h(
      'div.actions',
      {},
      h('button.primary.big#accept', { type: 'button', onclick: () => answer(a, true) }, t('worker.accept')),
      h('button.secondary.big#decline-btn', { type: 'button', onclick: () => askDecline(a) }, t('worker.decline')),
    ),
  );
  renderCountdown();
}

function renderCountdown() {
  const el = $('#offer');
  const a = model.assignments.get(el.dataset.assignment || '');
  if (!a || el.hidden) return;
  const left = secondsLeft(a);
  if (left !== null && left <= 0) {
    el.dataset.assignment = '';
    el.dataset.key = '';
    return render();
  }
  const txt = $('#countdown-text');
  if (txt) txt.textContent = left === null ? '' : t('worker.expiresIn', { s: Math.ceil(left) });
  const bar = $('#countdown-bar');
  const total = a.offered_at && a.expires_at ? (Date.parse(a.expires_at) - Date.parse(a.offered_at)) / 1000 : 60;
  if (bar && left !== null) bar.style.width = `${Math.max(0, Math.min(100, (100 * left) / total))}%`;
}

function secondsLeft(a) {
  const exp = Date.parse(a.expires_at || a.offer_expires || '');
  return Number.isFinite(exp) ? (exp - serverNow()) / 1000 : null;
}

function expired(a) {
  const left = secondsLeft(a);
  return left !== null && left <= 0;
}

function renderCurrent(a) {
  const el = $('#current');
  el.hidden = !a;
  delete el.dataset.assignment;
  if (!a) return clear(el);
  el.dataset.assignment = a.id;
  const state = effectiveState(a);
  const next = NEXT[state];
  clear(
    el,
    h('h2', {}, t('worker.current')),
    summary(a),
    h('p.state', { dataset: { state } }, t(`state.${state}`)),
    next ? h('button.primary.big#advance', { type: 'button', dataset: { next: next[0] }, onclick: () => advance(a, next[0]) }, t(next[1])) : null,
  );
}

function askDecline(a) {
  const dialog = $('#decline');
  const reasons = ['busy', 'far', 'unfit', 'other'];
  const text = h('textarea', { name: 'reason-text', rows: 2, maxlength: 400, placeholder: t('worker.reason.other') });
  const radios = reasons.map((r, i) =>
    h('label.radio', {}, h('input', { type: 'radio', name: 'reason', value: r, checked: i === 0 }), ' ', t(`worker.reason.${r}`)),
  );
  clear(
    dialog,
    h(
      'form',
      {
        method: 'dialog',
        onsubmit: (e) => {
          e.preventDefault();
          const r = dialog.querySelector('input[name=reason]:checked')?.value || 'other';
          const extra = text.value.trim();
          const reason = [t(`worker.reason.${r}`), extra].filter(Boolean).join(': ');
          dialog.close();
          answer(a, false, reason);
        },
      },
      h('h2', {}, t('worker.declineReason')),
      radios,
      text,
      h('div.actions', {},
        h('button.secondary', { type: 'button', onclick: () => dialog.close() }, t('worker.cancel')),
        h('button.danger#confirm-decline', { type: 'submit' }, t('worker.confirmDecline'))),
    ),
  );
  dialog.showModal();
}

function renderOutbox(n) {
  const el = $('#outbox');
  if (!el) return;
  el.textContent = n ? t('worker.queued', { n }) : t('worker.allSent');
  el.dataset.pending = String(n);
  el.classList.toggle('pending', n > 0);
}

function showError(msg) {
  $('#error').textContent = msg ? t('common.error', { msg }) : '';
}

function distanceKm(a, b) {
  const r = Math.PI / 180;
  const s = Math.sin(((b.lat - a.lat) * r) / 2) ** 2 + Math.cos(a.lat * r) * Math.cos(b.lat * r) * Math.sin(((b.lng - a.lng) * r) / 2) ** 2;
  return 2 * 6371 * Math.asin(Math.min(1, Math.sqrt(s)));
}

addEventListener('pagehide', () => clearInterval(tick));
main();

