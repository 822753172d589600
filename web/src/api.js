// Talking to the clearmap API with the session cookie. Every
// state-changing request carries the session's CSRF token.

let csrf = '';

/**
 * An API error, with the RFC 9457 problem the server sent (type, title,
 * status, detail, and for a rejected upload problems and upload).
 */
export class APIError extends Error {
  constructor(status, body) {
    super(body?.detail || body?.title || `HTTP ${status}`);
    this.status = status;
    this.body = body;
  }
}

async function call(method, path, body) {
  const headers = {};
  if (method !== 'GET') headers['X-CSRF-Token'] = csrf;
  if (body !== undefined) headers['Content-Type'] = 'application/json';
  const res = await fetch(path, {
    method, headers, credentials: 'same-origin',
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await res.text();
  const data = text ? JSON.parse(text) : null;
  if (!res.ok) throw new APIError(res.status, data);
  return data;
}

/** The current session, or null when not signed in. */
export async function session() {
  try {
    const s = await call('GET', '/api/v1/session');
    csrf = s.csrf_token;
    return s;
  } catch (e) {
    if (e.status === 401) return null;
    throw e;
  }
}

/** Exchanges a token for a session cookie. */
export async function signIn(token) {
  const s = await call('POST', '/api/v1/session', { token });
  csrf = s.csrf_token;
  return s;
}

export async function signOut() {
  await call('DELETE', '/api/v1/session');
  csrf = '';
}

/** The query string for the filters (crop, from, to), '' when none. */
export function filterQuery(f) {
  const q = new URLSearchParams();
  for (const k of ['crop', 'from', 'to']) if (f[k]) q.set(k, f[k]);
  const s = q.toString();
  return s ? `?${s}` : '';
}

export const summary = (f) => call('GET', `/api/v1/summary${filterQuery(f)}`);
export const districts = (f) => call('GET', `/api/v1/districts${filterQuery(f)}`);

/**
 * Uploads a file as multipart/form-data. XMLHttpRequest, not fetch, because
 * only it reports upload progress. Resolves with {status, body} for any
 * answer the server gives; rejects only when the request fails on the way.
 */
export function upload(file, defaults, onProgress) {
  const q = new URLSearchParams();
  for (const [k, v] of Object.entries(defaults)) if (v) q.set(k, v);
  const form = new FormData();
  form.append('file', file, file.name);
  return new Promise((resolve, reject) => {
    const xhr = new XMLHttpRequest();
    xhr.open('POST', `/api/v1/uploads${q.size ? `?${q}` : ''}`);
    xhr.setRequestHeader('X-CSRF-Token', csrf);
    xhr.upload.onprogress = (e) => { if (e.lengthComputable) onProgress(e.loaded / e.total); };
    xhr.onload = () => {
      let body = null;
      try { body = JSON.parse(xhr.responseText); } catch { /* not JSON: reported by status */ }
      resolve({ status: xhr.status, body });
    };
    xhr.onerror = () => reject(new Error('the connection failed before the server answered; try again (a retry never counts a field twice)'));
    xhr.send(form);
  });
}

/** Mapped acres per month or ISO week under the filters, optionally for one province. */
export function progress(f, by, province = '') {
  const q = new URLSearchParams({ by });
  for (const k of ['crop', 'from', 'to']) if (f[k]) q.set(k, f[k]);
  if (province) q.set('province', province);
  return call('GET', `/api/v1/progress?${q}`);
}
