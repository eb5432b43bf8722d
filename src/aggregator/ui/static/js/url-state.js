// The view and its filters live in the URL query, so a filtered view can be shared
// or bookmarked and the back button works (history.pushState, HTML §7.4.4).
import { useEffect, useState } from 'preact/hooks';

export const VIEWS = ['resets', 'senders', 'mtu'];
export const FILTER_KEYS = ['namespace', 'node', 'cause'];

function readState() {
  const query = new URLSearchParams(window.location.search);
  const view = query.get('view');
  const state = { view: VIEWS.includes(view) ? view : 'resets' };
  for (const key of FILTER_KEYS) state[key] = query.get(key) ?? '';
  return state;
}

function writeState(state) {
  const query = new URLSearchParams(window.location.search);
  if (state.view === 'resets') query.delete('view');
  else query.set('view', state.view);
  for (const key of FILTER_KEYS) {
    if (state[key]) query.set(key, state[key]);
    else query.delete(key);
  }
  const search = query.toString();
  window.history.pushState(null, '', `${window.location.pathname}${search ? `?${search}` : ''}`);
}

/** [state, update]: update({ cause: 'middlebox' }) merges, writes the URL and re-renders. */
export function useUrlState() {
  const [state, setState] = useState(readState);
  useEffect(() => {
    const onPop = () => setState(readState());
    window.addEventListener('popstate', onPop);
    return () => window.removeEventListener('popstate', onPop);
  }, []);
  const update = (changes) => {
    const next = { ...readState(), ...changes };
    writeState(next);
    setState(next);
  };
  return [state, update];
}
