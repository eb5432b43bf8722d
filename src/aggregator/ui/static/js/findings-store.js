// All findings the page knows, by id: loaded over HTTP, kept current by the stream.
import { useEffect, useReducer, useState } from 'preact/hooks';
import { getJson, openFindingStream } from './api.js';

/** Bound on what one page keeps, newest first, so a long-open tab does not grow without end. */
const MAX_FINDINGS = 5000;
const LOAD_LIMIT = 1000;
const STREAM_BATCH_MS = 100;

/**
 * A rolled-up finding comes again with the same id and a larger count or later
 * lastSeen (DESIGN.md, "Finding"); an older copy (a page of HTTP results that crossed
 * a stream update) never replaces a newer one.
 */
export function isNewer(candidate, current) {
  if (current === undefined) return true;
  return candidate.count >= current.count && candidate.lastSeen >= current.lastSeen;
}

function reduce(state, findings) {
  let next = null;
  for (const finding of findings) {
    if (!isNewer(finding, (next ?? state).get(finding.id))) continue;
    next ??= new Map(state);
    next.set(finding.id, finding);
  }
  if (next === null) return state;
  if (next.size > MAX_FINDINGS) {
    const newest = [...next.values()].sort(byLastSeenDesc).slice(0, MAX_FINDINGS);
    next = new Map(newest.map((finding) => [finding.id, finding]));
  }
  return next;
}

/** Keys (id@lastSeen) of versions that came over the stream, so the table can mark live arrivals. */
const liveKeys = new Set();
const MAX_LIVE_KEYS = 1000;

export function arrivedLive(finding) {
  return liveKeys.has(`${finding.id}@${finding.lastSeen}`);
}

function rememberLive(finding) {
  if (liveKeys.size >= MAX_LIVE_KEYS) liveKeys.delete(liveKeys.values().next().value);
  liveKeys.add(`${finding.id}@${finding.lastSeen}`);
}

export function byLastSeenDesc(a, b) {
  return a.lastSeen < b.lastSeen ? 1 : a.lastSeen > b.lastSeen ? -1 : 0;
}

/**
 * { findings: Map, stream: 'connecting'|'live'|'reconnecting', error: string|null, loaded }.
 * Loads with the API's own filters whenever they change, and again on every stream
 * (re)open so nothing that happened while the socket was down is missed.
 */
export function useFindings(filters) {
  const [findings, add] = useReducer(reduce, new Map());
  const [stream, setStream] = useState('connecting');
  const [error, setError] = useState(null);
  const [loaded, setLoaded] = useState(false);
  const [reloads, setReloads] = useState(0);
  const filterKey = JSON.stringify(filters);

  useEffect(() => {
    // A burst of messages becomes one state change per STREAM_BATCH_MS, not one render each.
    const pending = [];
    let flushTimer = null;
    const flush = () => {
      flushTimer = null;
      add(pending.splice(0));
    };
    const close = openFindingStream({
      onFinding: (finding) => {
        rememberLive(finding);
        pending.push(finding);
        flushTimer ??= setTimeout(flush, STREAM_BATCH_MS);
      },
      onState: setStream,
      onOpen: () => setReloads((count) => count + 1),
    });
    return () => {
      clearTimeout(flushTimer);
      close();
    };
  }, []);

  useEffect(() => {
    let current = true;
    const load = async () => {
      try {
        const [recent, pmtu] = await Promise.all([
          getJson('api/v1/findings', { limit: LOAD_LIMIT, ...filters }),
          getJson('api/v1/pmtu').catch(() => ({ items: [] })),
        ]);
        if (!current) return;
        add([...(recent.items ?? []), ...(pmtu.items ?? [])]);
        setError(null);
      } catch (err) {
        if (current) setError(err.message);
      } finally {
        if (current) setLoaded(true);
      }
    };
    load();
    return () => {
      current = false;
    };
  }, [filterKey, reloads]);

  return { findings, stream, error, loaded };
}
