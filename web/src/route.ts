import { useEffect, useState } from 'preact/hooks';

/** Where the console is, from the URL fragment: `#/`, `#/stores/{id}`, `#/stores/{id}/records/{key}`. */
export type Route = { page: 'stores' } | { page: 'store'; storeId: string } | { page: 'record'; storeId: string; key: string };

export function parseRoute(hash: string): Route {
  let parts: string[];
  try {
    parts = hash.replace(/^#\/?/, '').split('/').map(decodeURIComponent);
  } catch {
    return { page: 'stores' };
  }
  if (parts[0] === 'stores' && parts[1]) {
    if (parts[2] === 'records' && parts[3]) return { page: 'record', storeId: parts[1], key: parts[3] };
    return { page: 'store', storeId: parts[1] };
  }
  return { page: 'stores' };
}

export const storeHref = (storeId: string) => `#/stores/${encodeURIComponent(storeId)}`;
export const recordHref = (storeId: string, key: string) => `${storeHref(storeId)}/records/${encodeURIComponent(key)}`;

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
