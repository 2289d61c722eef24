// The connection indicator both pages show: a pill in the top bar and,
// while offline, a banner nobody can miss. Status is also set as
// data-state, which the browser tests read.
import { t } from './i18n.js';

const LABEL = { online: 'conn.online', connecting: 'conn.connecting', offline: 'conn.offline', resync: 'conn.resync' };

export function showConn(status) {
  const el = document.getElementById('conn');
  if (el) {
    el.dataset.state = status;
    el.className = `conn conn-${status}`;
    el.textContent = t(LABEL[status] || LABEL.offline);
  }
  const banner = document.getElementById('offline-banner');
  if (banner) banner.hidden = status !== 'offline';
  // Counting drops lets an operator (and the browser tests) see that a
  // reconnect happened even when it was quick.
  if (status === 'offline' && document.body.dataset.state !== 'offline') {
    document.body.dataset.drops = String(Number(document.body.dataset.drops || 0) + 1);
  }
  document.body.dataset.state = status;
  document.body.classList.toggle('is-offline', status === 'offline');
}
