// Sign-in shared by both pages: the token comes from #token= (demo links),
// from this tab's sessionStorage, or from the login box; it is checked with
// GET /api/v1/me before the page starts.
import { h, clear } from './dom.js';
import { t } from './i18n.js';
import { me } from './api.js';
import { getToken, setToken, takeTokenFromURL } from './auth.js';

// signIn resolves with the caller's principal once a valid token is known.
export async function signIn(dialog) {
  takeTokenFromURL();
  for (;;) {
    if (getToken()) {
      try {
        return await me();
      } catch (err) {
        if (err.status !== 401 && err.status !== 403) {
          // The server is unreachable: wait and ask again instead of
          // throwing away a token that may be fine.
          await sleep(2000);
          continue;
        }
        setToken('');
        await ask(dialog, t('login.failed'));
        continue;
      }
    }
    await ask(dialog, '');
  }
}

export function signOut() {
  setToken('');
  location.reload();
}

function ask(dialog, error) {
  return new Promise((resolve) => {
    const input = h('input', { type: 'password', name: 'token', autocomplete: 'current-password', required: true, 'aria-label': t('login.token') });
    const form = h(
      'form',
      {
        method: 'dialog',
        onsubmit: (e) => {
          e.preventDefault();
          const tok = input.value.trim();
          if (!tok) return;
          setToken(tok);
          dialog.close();
          resolve();
        },
      },
      h('h2', {}, t('login.title')),
      h('p.muted', {}, t('login.hint')),
      h('label.field', {}, h('span.label', {}, t('login.token')), input),
      error ? h('p.error', { role: 'alert' }, error) : null,
      h('button.primary', { type: 'submit' }, t('login.submit')),
    );
    clear(dialog, form);
    dialog.addEventListener('cancel', (e) => e.preventDefault(), { once: true });
    if (!dialog.open) dialog.showModal();
    input.focus();
  });
}

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
