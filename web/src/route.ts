import { useEffect, useState } from 'preact/hooks';
import type { StorageKind } from './api';

/**
 * Where the console is, from the URL fragment: `#/` (key-value stores), `#/stores/{id}`,
 * `#/stores/{id}/records/{key}`, `#/datasets`, `#/datasets/{id}`, `#/request-queues`,
 * `#/request-queues/{id}`, `#/request-queues/{id}/requests/{requestId}`.
 */
export type Route =
  | { page: 'list'; kind: StorageKind }
  | { page: 'storage'; kind: StorageKind; id: string }
  | { page: 'record'; storeId: string; key: string }
  | { page: 'request'; queueId: string; requestId: string };

const SEGMENTS: Readonly<Record<StorageKind, string>> = { kvs: 'stores', dataset: 'datasets', queue: 'request-queues' };

const kindOfSegment = (segment: string | undefined): StorageKind =>
  (Object.keys(SEGMENTS) as StorageKind[]).find((k) => SEGMENTS[k] === segment) ?? 'kvs';

export function parseRoute(hash: string): Route {
  let parts: string[];
  try {
    parts = hash.replace(/^#\/?/, '').split('/').map(decodeURIComponent);
  } catch {
    return { page: 'list', kind: 'kvs' };
  }
  const kind = kindOfSegment(parts[0]);
  if (parts[0] !== SEGMENTS[kind] || !parts[1]) return { page: 'list', kind };
  if (kind === 'kvs' && parts[2] === 'records' && parts[3]) return { page: 'record', storeId: parts[1], key: parts[3] };
  if (kind === 'queue' && parts[2] === 'requests' && parts[3]) return { page: 'request', queueId: parts[1], requestId: parts[3] };
  return { page: 'storage', kind, id: parts[1] };
}

/** The list of a kind; key-value stores are the console's home. */
export const listHref = (kind: StorageKind) => (kind === 'kvs' ? '#/' : `#/${SEGMENTS[kind]}`);
export const storageHref = (kind: StorageKind, id: string) => `#/${SEGMENTS[kind]}/${encodeURIComponent(id)}`;
export const recordHref = (storeId: string, key: string) => `${storageHref('kvs', storeId)}/records/${encodeURIComponent(key)}`;
export const requestHref = (queueId: string, requestId: string) =>
  `${storageHref('queue', queueId)}/requests/${encodeURIComponent(requestId)}`;

export function navigate(href: string): void {
  location.hash = href;
}

/** The current route, following the fragment. */
export function useRoute(): Route {
  const [route, setRoute] = useState(() => parseRoute(location.hash));
  useEffect(() => {
    const update = () => setRoute(parseRoute(location.hash));
    addEventListener('hashchange', update);
    return () => removeEventListener('hashchange', update);
  }, []);
  return route;
}
