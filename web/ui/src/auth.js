// The page's credential. A demo link may carry it as #token=...; it is then
// moved to sessionStorage and removed from the address bar so it does not
// linger in history or get copied along with the URL.

const KEY = 'dispatch.token';

export function takeTokenFromURL() {
  const m = /(?:^|[#&])token=([^&]+)/.exec(location.hash);
  if (!m) return;
  sessionStorage.setItem(KEY, decodeURIComponent(m[1]));
  history.replaceState(null, '', location.pathname + location.search);
}

export function getToken() {
  return sessionStorage.getItem(KEY) || '';
}

export function setToken(tok) {
  if (tok) sessionStorage.setItem(KEY, tok);
  else sessionStorage.removeItem(KEY);
}
