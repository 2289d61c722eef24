// The worker's outbox. Every answer the worker gives (duty, accept, decline,
// en route, on scene, done) is kept in localStorage until the server acks
// its client id, so a flaky connection or a closed tab loses nothing. Each
// message is sent once per connection; after a reconnect only the un-acked
// ones are sent again, and the server recognises a repeated id, so nothing
// is applied twice.

export class Outbox {
  constructor(storageKey, { onChange } = {}) {
    this.key = storageKey;
    this.onChange = onChange || (() => {});
    this.items = load(storageKey);
    this.inflight = new Set(); // ids sent on the current connection
    this.send = null;
  }

  get size() {
    return this.items.length;
  }

  pending() {
    return this.items.slice();
  }

  // push queues msg (an object without id) and sends it if connected.
  // Positions replace an older unsent position: only the latest matters.
  push(msg) {
    if (msg.type === 'position') {
      this.items = this.items.filter((m) => m.type !== 'position' || this.inflight.has(m.id));
    }
    const item = { ...msg, id: newID() };
    this.items.push(item);
    this.save();
    this.trySend(item);
    return item.id;
  }

  // connected is called when a stream opens with its send function.
  connected(send) {
    this.send = send;
    this.inflight.clear();
    for (const m of this.items) this.trySend(m);
  }

  disconnected() {
    this.send = null;
    this.inflight.clear();
  }

  trySend(m) {
    if (!this.send || this.inflight.has(m.id)) return;
    if (this.send(m)) this.inflight.add(m.id);
  }

  // retryLater sends an unsettled message again after ms, on whatever
  // connection is open then.
  retryLater(id, ms) {
    this.inflight.delete(id);
    setTimeout(() => {
      const m = this.items.find((x) => x.id === id);
      if (m) this.trySend(m);
    }, ms);
  }

  // settle removes a message the server answered (ack or refusal); it
  // returns the message, or null for an id that is not ours.
  settle(id) {
    const i = this.items.findIndex((m) => m.id === id);
    if (i < 0) return null;
    const [m] = this.items.splice(i, 1);
    this.inflight.delete(id);
    this.save();
    return m;
  }

  save() {
    try {
      localStorage.setItem(this.key, JSON.stringify(this.items));
    } catch {
      // Storage full or denied: the queue still works for this tab.
    }
    this.onChange(this.items.length);
  }
}

function load(key) {
  try {
    const v = JSON.parse(localStorage.getItem(key) || '[]');
    return Array.isArray(v) ? v.filter((m) => m && typeof m.id === 'string' && typeof m.type === 'string') : [];
  } catch {
    return [];
  }
}

// newID is unique per worker message; crypto.randomUUID needs a secure
// page, getRandomValues does not.
function newID() {
  const b = crypto.getRandomValues(new Uint8Array(12));
  return `m${Date.now().toString(36)}${[...b].map((x) => x.toString(16).padStart(2, '0')).join('')}`;
}
