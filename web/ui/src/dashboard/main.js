// The coordinator dashboard: map, incident list and panel, incident form
// and live feed, all fed by one snapshot plus the event stream.
import 'leaflet/dist/leaflet.css';
import '../styles/base.css';
import '../styles/dashboard.css';
import { h, clear, option, $ } from '../dom.js';
import { t, applyStatic, toggleLang, onLangChange } from '../i18n.js';
import { signIn, signOut } from '../login.js';
import { showConn } from '../conn.js';
import { Stream } from '../stream.js';
import { snapshot, config, worker as readWorker, assignment as readAssignment } from '../api.js';
import { Model } from '../model.js';
import { DEFAULT_SKILLS, REGIONS, SEVERITIES } from '../domain.js';
import { createBaseMap } from './basemap.js';
import { LiveLayers, hexColour } from './layers.js';
import { Feed } from './feed.js';
import { IncidentForm } from './form.js';
import { renderList, renderDetail, setRunnersLoader } from './panel.js';

const model = new Model();
const ui = { tab: 'incidents', detail: null, skills: DEFAULT_SKILLS, me: null, pending: false };
let stream;
let layers;
let feed;
let form;
let base;
// While a snapshot reloads after a reset, events are held back and then
// applied past the snapshot's sequence.
let held = null;

async function main() {
  applyStatic(document);
  $('#lang').addEventListener('click', toggleLang);
  $('#logout').addEventListener('click', signOut);
  showConn('connecting');
  ui.me = await signIn($('#login'));
  if (ui.me.role === 'worker') {
    location.replace('/worker');
    return;
  }
  renderWho();

  setRunnersLoader(loadRunners);
  base = createBaseMap($('#map'));
  layers = new LiveLayers(base.map, model, { onIncidentClick: openDetail });
  feed = new Feed($('#feed'), model, { onIncidentClick: openDetail });
  form = new IncidentForm($('#pane-new'), base.map, { skills: () => ui.skills, onCreated: (inc) => inc?.id && openDetail(inc.id) });
  for (const b of document.querySelectorAll('[data-tab]')) b.addEventListener('click', () => showTab(b.dataset.tab));
  // The panel skips redraws while focus is in one of its forms; catch up
  // once it leaves.
  $('#pane-detail').addEventListener('focusout', () => setTimeout(schedulePanels));
  onLangChange(() => {
    renderWho();
    base.redrawLabels();
    feed.rerender();
    renderFilters();
    renderLegend();
    form.render();
    renderPanels();
    layers.redraw();
    showConn(stream?.status || 'connecting');
    renderSeq();
  });

  await loadSnapshot();
  await loadSkills();
  renderFilters();
  renderLegend();
  form.render();
  feed.rerender();
  showTab('incidents');

  stream = new Stream({
    lastSeq: model.seq,
    onStatus: showConn,
    onEvent: onEvent,
    onReset: resync,
    // The credential expired or was revoked (close 4001, then a 401 for
    // the ticket): ask for a new one instead of retrying for ever.
    onAuthError: signOut,
  });
  stream.start();
}

async function loadSnapshot() {
  for (;;) {
    try {
      const snap = await snapshot();
      model.load(snap);
      if (Array.isArray(snap.skills) && snap.skills.length) ui.skills = snap.skills.map((s) => s.id || s);
      layers.redraw();
      renderPanels();
      renderSeq();
      return;
    } catch (err) {
      showConn('offline');
      await new Promise((r) => setTimeout(r, 2000));
    }
  }
}

// loadSkills takes the configured skill list from the server; the
// defaults stay when it cannot be read.
async function loadSkills() {
  try {
    const c = await config();
    const skills = c?.skills || c?.policy?.skills;
    if (Array.isArray(skills) && skills.length) ui.skills = skills.map((s) => s.id || s);
  } catch {
    // Keep the defaults.
  }
}

function onEvent(ev) {
  if (held) return void held.push(ev);
  model.apply(ev);
  if (ev.worker_id && !model.workers.get(ev.worker_id)?.name) fetchWorker(ev.worker_id);
  feed.add(ev);
  layers.redraw();
  schedulePanels();
  renderSeq();
}

// resync reloads the snapshot when the server says the log no longer
// reaches back to our sequence (PRODUCT §5).
async function resync() {
  held = [];
  showConn('resync');
  await loadSnapshot();
  const after = model.seq;
  const backlog = held;
  held = null;
  // The stream moved to the server's head at the reset and past it for
  // every held event; the snapshot is at or past that head.
  stream.resetTo(Math.max(after, stream.lastSeq));
  for (const ev of backlog) if (ev.seq > after) onEvent(ev);
  showConn(stream.status);
}

// The snapshot lists on-duty workers only; a worker who comes on duty
// later is read once for name and skills.
const fetching = new Set();
async function fetchWorker(id) {
  if (fetching.has(id)) return;
  fetching.add(id);
  try {
    const w = await readWorker(id);
    model.workers.set(id, { ...w, ...model.workers.get(id), name: w.name, skills: w.skills, cert: w.cert, home_region: w.home_region });
    layers.redraw();
    feed.rerender();
    schedulePanels();
  } catch {
    // Not fatal: the worker shows by id until the next snapshot.
  } finally {
    fetching.delete(id);
  }
}

async function loadRunners(id) {
  try {
    const a = await readAssignment(id);
    const cur = model.assignments.get(id);
    if (cur && a?.explanation) model.assignments.set(id, { ...cur, explanation: { ...cur.explanation, runners_up: a.explanation.runners_up || [] } });
    schedulePanels();
  } catch {
    // The panel shows the terms without runners-up.
  }
}

// renderWho names the signed-in desk and the regions it sees.
function renderWho() {
  $('#who').textContent = `${ui.me.name} · ${(ui.me.regions?.length ? ui.me.regions : REGIONS).map((r) => t(`region.${r}`)).join(' ')}`;
}

function renderSeq() {
  $('#seq').textContent = t('conn.seq', { seq: model.seq });
  document.body.dataset.seq = String(model.seq);
}

function schedulePanels() {
  if (ui.pending) return;
  ui.pending = true;
  requestAnimationFrame(() => {
    ui.pending = false;
    renderPanels();
  });
}

function renderPanels() {
  renderList($('#pane-incidents'), model, openDetail);
  // The detail pane holds forms the coordinator may be typing into (and
  // their answers, such as the constraints an override would break); it
  // is not redrawn while focus is in one of them.
  const typing = Boolean(document.activeElement?.closest?.('#pane-detail form'));
  if (ui.detail && !typing) {
    renderDetail($('#pane-detail'), model, ui.detail, { onBack: () => showTab('incidents') });
  }
}

function openDetail(id) {
  ui.detail = id;
  $('[data-tab=detail]').hidden = false;
  renderDetail($('#pane-detail'), model, id, { onBack: () => showTab('incidents') });
  showTab('detail');
  layers.focus(id);
}

function showTab(name) {
  ui.tab = name;
  for (const b of document.querySelectorAll('[data-tab]')) b.setAttribute('aria-selected', String(b.dataset.tab === name));
  for (const p of document.querySelectorAll('[data-pane]')) p.hidden = p.dataset.pane !== name;
  form.setActive(name === 'new');
}

function renderFilters() {
  const skill = $('#f-skill');
  const region = $('#f-region');
  const scope = ui.me.regions?.length ? ui.me.regions : REGIONS;
  clear(skill, option('', t('map.filter.all')), ui.skills.map((s) => option(s, t(`skill.${s}`), s === layers.filter.skill)));
  clear(region, option('', t('map.filter.all')), scope.map((r) => option(r, t(`region.${r}`), r === layers.filter.region)));
  skill.onchange = () => layers.setFilter({ skill: skill.value });
  region.onchange = () => layers.setFilter({ region: region.value });
}

function renderLegend() {
  clear(
    $('#legend'),
    h('div.legend-title', {}, t('map.legend.available')),
    h('div.legend-row', {}, [1, 2, 5, 10].map((n) => h('span.swatch', { style: `background:${hexColour(n)}`, class: n < 5 ? 'light' : '' }, n === 10 ? '10+' : String(n)))),
    h('div.legend-title', {}, t('map.legend.severity')),
    h('div.legend-row', {}, SEVERITIES.map((s) => h(`span.sev.sev-${s}`, { title: t(`sev.${s}`) }, s))),
    h('div.legend-row', {}, h('span.pulse-dot'), ' ', t('map.legend.unfilled')),
  );
}

main();
