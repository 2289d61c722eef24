// A tiny element builder. Text always goes in as text nodes, never as HTML,
// because names, notes and reasons come from other people.

export function h(tag, attrs, ...children) {
  // tag is "name", optionally followed by ".class" and "#id" parts.
  const parts = tag.match(/^[^.#]*|[.#][^.#]+/g);
  const el = document.createElement(parts[0] || 'div');
  const classes = [];
  for (const p of parts.slice(1)) {
    if (p[0] === '#') el.id = p.slice(1);
    else classes.push(p.slice(1));
  }
  if (classes.length) el.className = classes.join(' ');
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v === undefined || v === null || v === false) continue;
    if (k.startsWith('on')) el.addEventListener(k.slice(2), v);
    else if (k === 'dataset') Object.assign(el.dataset, v);
    else if (k === 'class') el.className += (el.className ? ' ' : '') + v;
    else if (k in el && typeof v !== 'string') el[k] = v;
    else el.setAttribute(k, v === true ? '' : v);
  }
  append(el, children);
  return el;
}

function append(el, children) {
  for (const c of children) {
    if (c === undefined || c === null || c === false) continue;
    if (Array.isArray(c)) append(el, c);
    else el.append(c instanceof Node ? c : String(c));
  }
}

export function clear(el, ...children) {
  el.replaceChildren();
  append(el, children);
  return el;
}

export const $ = (sel, root = document) => root.querySelector(sel);

export function option(value, label, selected) {
  return h('option', { value, selected: selected === true || undefined }, label);
}
