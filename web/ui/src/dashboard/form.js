// The incident form. The coordinator clicks the map to place the incident
// (a draggable marker shows where), then picks type, severity and needs.
import L from 'leaflet';
import { h, clear, option } from '../dom.js';
import { t } from '../i18n.js';
import { INCIDENT_TYPES, SEVERITIES, CERTS } from '../domain.js';
import { createIncident } from '../api.js';

export class IncidentForm {
  constructor(el, map, { skills, onCreated }) {
    this.el = el;
    this.map = map;
    this.skills = skills;
    this.onCreated = onCreated;
    this.pos = null;
    this.marker = null;
    this.values = { type: 'flood', severity: 'III', needs: [{ skill: skills()[0], count: 1, min_cert: 'assistant' }], supervisor: false, notes: '' };
    map.on('click', (e) => this.place(e.latlng));
  }

  // active is set while the form's tab is shown; clicks elsewhere do not
  // move the marker.
  setActive(on) {
    this.active = on;
    this.map.getContainer().classList.toggle('placing', on);
    if (this.marker) this.marker.setOpacity(on ? 1 : 0.4);
  }

  place(latlng) {
    if (!this.active) return;
    this.pos = { lat: round(latlng.lat), lng: round(latlng.lng) };
    if (!this.marker) {
      this.marker = L.marker(latlng, { draggable: true, icon: L.divIcon({ className: 'draft-marker', iconSize: [22, 22], iconAnchor: [11, 22] }) }).addTo(this.map);
      this.marker.on('dragend', () => this.place(this.marker.getLatLng()));
    } else {
      this.marker.setLatLng(latlng);
    }
    const out = this.el.querySelector('#f-pos');
    if (out) out.textContent = fmtPos(this.pos);
  }

  render() {
    const v = this.values;
    const needs = h('div.needs', {}, v.needs.map((n, i) => this.needRow(n, i)));
    const form = h(
      'form.incident-form',
      { onsubmit: (e) => this.submit(e), novalidate: true },
      h('div.field', {}, h('span.label', {}, t('form.position')), h('output#f-pos', {}, this.pos ? fmtPos(this.pos) : t('map.clickToPlace'))),
      h(
        'div.row',
        {},
        h('label.field', {}, h('span.label', {}, t('form.type')),
          h('select', { name: 'type', onchange: (e) => (v.type = e.target.value) }, INCIDENT_TYPES.map((x) => option(x, t(`type.${x}`), x === v.type)))),
        h('label.field', {}, h('span.label', {}, t('form.severity')),
          h('select', { name: 'severity', onchange: (e) => (v.severity = e.target.value) }, SEVERITIES.map((x) => option(x, t(`sev.${x}`), x === v.severity)))),
      ),
      h('fieldset.field', {}, h('legend', {}, t('form.needs')), needs,
        h('button.link', { type: 'button', onclick: () => this.addNeed() }, t('form.addNeed'))),
      h('label.check', {}, h('input', { type: 'checkbox', name: 'supervisor', checked: v.supervisor, onchange: (e) => (v.supervisor = e.target.checked) }), ' ', t('form.supervisor')),
      h('label.field', {}, h('span.label', {}, t('form.notes')),
        h('textarea', { name: 'notes', rows: 2, maxlength: 2000, oninput: (e) => (v.notes = e.target.value) }, v.notes)),
      h('p.form-msg', { role: 'alert' }),
      h('button.primary', { type: 'submit' }, t('form.submit')),
    );
    clear(this.el, form);
  }

  needRow(n, i) {
    const v = this.values;
    return h(
      'div.need',
      { dataset: { need: i } },
      h('select', { name: 'skill', 'aria-label': t('form.skill'), onchange: (e) => (n.skill = e.target.value) },
        this.skills().map((s) => option(s, t(`skill.${s}`), s === n.skill))),
      h('input', { type: 'number', name: 'count', min: 1, max: 50, value: n.count, 'aria-label': t('form.count'), title: t('form.count'), oninput: (e) => (n.count = Number(e.target.value)) }),
      h('select', { name: 'min_cert', 'aria-label': t('form.minCert'), title: t('form.minCert'), onchange: (e) => (n.min_cert = e.target.value) },
        CERTS.map((c) => option(c, t(`cert.${c}`), c === n.min_cert))),
      v.needs.length > 1 ? h('button.link', { type: 'button', title: t('form.removeNeed'), onclick: () => { v.needs.splice(i, 1); this.render(); } }, '×') : null,
    );
  }

  addNeed() {
    this.values.needs.push({ skill: this.skills()[0], count: 1, min_cert: 'none' });
    this.render();
  }

  async submit(e) {
    e.preventDefault();
    const msg = this.el.querySelector('.form-msg');
    if (!this.pos) {
      msg.textContent = t('form.needPosition');
      return;
    }
    const v = this.values;
    const button = this.el.querySelector('button[type=submit]');
    button.disabled = true;
    try {
      const inc = await createIncident({
        type: v.type,
        severity: v.severity,
        position: this.pos,
        needs: v.needs.map((n) => ({ skill: n.skill, count: n.count, min_cert: n.min_cert })),
        needs_supervisor: v.supervisor,
        notes: v.notes.trim(),
      });
      msg.textContent = t('form.created');
      this.reset();
      this.onCreated(inc);
    } catch (err) {
      msg.textContent = t('common.error', { msg: err.field ? `${err.field}: ${err.message}` : err.message });
    } finally {
      button.disabled = false;
    }
  }

  reset() {
    this.pos = null;
    if (this.marker) this.marker.remove();
    this.marker = null;
    this.values.notes = '';
    this.render();
  }
}

const round = (x) => Math.round(x * 1e5) / 1e5;

function fmtPos(p) {
  return `${p.lat.toFixed(4)}, ${p.lng.toFixed(4)}`;
}
