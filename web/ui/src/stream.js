// The live event stream (PRODUCT §5). One websocket, opened with a
// short-lived ticket, resumed from the last sequence seen after every drop:
// the server replays everything after it in order, or says the log no
// longer reaches back, in which case the page reloads a snapshot.
import { wsTicket } from './api.js';

const BACKOFF_MIN = 500;
const BACKOFF_MAX = 8000;
// Without any frame for this long the connection is presumed dead (the
// server pings well within it) and is replaced.
const IDLE_LIMIT = 75_000;

export class Stream {
  // handlers: onEvent(ev), onReset(), onStatus(status), onMessage(msg)
  constructor({ lastSeq, ...handlers }) {
    this.lastSeq = lastSeq || 0;
    this.h = handlers;
    this.ws = null;
    this.status = 'connecting';
    this.backoff = BACKOFF_MIN;
    this.stopped = false;
    this.timer = null;
    this.idle = null;
    addEventListener('online', () => this.kick());
    // A lost signal may leave a dead socket open for a long time; drop it
    // now so the page says it is offline and queues what it sends.
    addEventListener('offline', () => this.ws?.close(4000, 'offline'));
  }

  start() {
    this.stopped = false;
    this.connect();
  }

  stop() {
    this.stopped = true;
    clearTimeout(this.timer);
    clearTimeout(this.idle);
    if (this.ws) this.ws.close(1000);
    this.ws = null;
  }

  // kick reconnects now instead of waiting out the backoff.
  kick() {
    if (this.stopped || this.ws) return;
    clearTimeout(this.timer);
    this.backoff = BACKOFF_MIN;
    this.connect();
  }

  // resetTo continues from seq after the page reloaded a snapshot.
  resetTo(seq) {
    this.lastSeq = seq;
  }

  // send writes a message if the stream is open; false means it was not
  // sent (callers that must deliver keep it queued).
  send(msg) {
    if (!this.ws || this.ws.readyState !== WebSocket.OPEN) return false;
    this.ws.send(JSON.stringify(msg));
    return true;
  }

  get online() {
    return this.status === 'online';
  }

  setStatus(s) {
    if (this.status === s) return;
    this.status = s;
    this.h.onStatus?.(s);
  }

  async connect() {
    if (this.stopped) return;
    this.setStatus(this.status === 'online' ? 'offline' : this.status);
    let ticket;
    try {
      ticket = await wsTicket();
    } catch (err) {
      if (err.status === 401) this.h.onAuthError?.(err);
      this.retry();
      return;
    }
    if (this.stopped) return;
    const proto = location.protocol === 'https:' ? 'wss:' : 'ws:';
    const q = new URLSearchParams({ ticket, after: String(this.lastSeq) });
    const ws = new WebSocket(`${proto}//${location.host}/api/v1/stream?${q}`);
    this.ws = ws;
    ws.onopen = () => {
      this.backoff = BACKOFF_MIN;
      this.setStatus('online');
      this.touch();
      this.h.onOpen?.();
    };
    ws.onmessage = (e) => {
      this.touch();
      let msg;
      try {
        msg = JSON.parse(e.data);
      } catch {
        return;
      }
      this.dispatch(msg);
    };
    ws.onclose = () => {
      if (this.ws !== ws) return;
      this.ws = null;
      clearTimeout(this.idle);
      this.setStatus('offline');
      this.retry();
    };
  }

  dispatch(msg) {
    switch (msg.type) {
      case 'event': {
        const ev = msg.event;
        // The server never repeats an event; this guards a page that
        // reloaded a snapshot newer than events still in flight.
        if (!ev || ev.seq <= this.lastSeq) return;
        this.lastSeq = ev.seq;
        this.h.onEvent?.(ev);
        return;
      }
      case 'reset':
        // The log does not reach back to lastSeq (trimmed, or the server's
        // log is behind the page's, as after a restore). Events from here
        // on follow the server's head; the page reloads a snapshot and
        // applies those past its last_seq.
        if (Number.isFinite(msg.seq)) this.lastSeq = msg.seq;
        this.h.onReset?.(msg);
        return;
      default:
        this.h.onMessage?.(msg);
    }
  }

  touch() {
    clearTimeout(this.idle);
    this.idle = setTimeout(() => this.ws?.close(4000, 'idle'), IDLE_LIMIT);
  }

  retry() {
    if (this.stopped) return;
    clearTimeout(this.timer);
    const wait = this.backoff * (0.75 + Math.random() / 2);
    this.backoff = Math.min(BACKOFF_MAX, this.backoff * 2);
    this.timer = setTimeout(() => this.connect(), wait);
  }
}
