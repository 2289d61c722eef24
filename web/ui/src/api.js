// Every HTTP call the pages make goes through this file, so a change of
// route or body shape on the server is a change here only.
import { getToken } from './auth.js';

export class ApiError extends Error {
  constructor(status, body) {
    const e = body?.error || {};
    super(e.message || `HTTP ${status}`);
    this.status = status;
    this.code = e.code || '';
    this.field = e.field || '';
    // An unforced override that breaks hard constraints lists them.
    this.violations = Array.isArray(e.violations) ? e.violations : [];
  }
}

async function call(method, path, body) {
  const headers = { Accept: 'application/json' };
  const tok = getToken();
  if (tok) headers.Authorization = `Bearer ${tok}`;
  if (body !== undefined) headers['Content-Type'] = 'application/json';
  let res;
  try {
    res = await fetch(path, { method, headers, body: body === undefined ? undefined : JSON.stringify(body), cache: 'no-store' });
  } catch (err) {
    const e = new ApiError(0, { error: { code: 'network', message: err.message } });
    e.network = true;
    throw e;
  }
  noteClock(res);
  const text = await res.text();
  let data = null;
  if (text) {
    try {
      data = JSON.parse(text);
    } catch {
      data = null;
    }
  }
  if (!res.ok) throw new ApiError(res.status, data);
  return data;
}

// The offer countdown is measured against the server's clock, estimated
// from the Date header, so a phone whose clock is off still counts right.
let skewMs = 0;

function noteClock(res) {
  const d = Date.parse(res.headers.get('Date') || '');
  if (Number.isFinite(d)) skewMs = d - Date.now();
}

export function serverNow() {
  // Date has whole seconds; +500 ms centres the estimate.
  return Date.now() + skewMs + 500;
}

const enc = encodeURIComponent;

export const me = () => call('GET', '/api/v1/me');

export async function wsTicket() {
  const r = await call('POST', '/api/v1/ws-ticket');
  return r.ticket;
}

// snapshot is the coordinator's whole picture at one sequence number.
export const snapshot = () => call('GET', '/api/v1/snapshot');

export const config = () => call('GET', '/api/v1/config');

export const createIncident = (inc) => call('POST', '/api/v1/incidents', inc);

export const closeIncident = (id, reason) => call('POST', `/api/v1/incidents/${enc(id)}/close`, { reason });

// assign offers a need of the incident to a worker chosen by hand:
// body {worker_id, need_index, reason, force}.
export const assign = (incidentId, body) => call('POST', `/api/v1/incidents/${enc(incidentId)}/assignments`, body);

export const unassign = (assignmentId, reason) =>
  call('POST', `/api/v1/assignments/${enc(assignmentId)}/unassign`, { reason });

// workerView is a worker's own picture: itself, its assignments and their
// incidents, at one sequence number.
export const workerView = (workerId) => call('GET', `/api/v1/workers/${enc(workerId)}/view`);

// worker reads one worker's record (coordinators): names and skills of
// workers the snapshot did not include because they were off duty.
export const worker = (workerId) => call('GET', `/api/v1/workers/${enc(workerId)}`);

// assignment reads one assignment with its runners-up, which events leave
// out.
export const assignment = (id) => call('GET', `/api/v1/assignments/${enc(id)}`);
