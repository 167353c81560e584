import { useCallback, useMemo, useRef, useState } from 'preact/hooks';
import type { StorageKind } from '../api';
import { Api } from '../api';
import { Console } from '../context';
import { KINDS } from '../kinds';
import { listHref, type Route, useRoute } from '../route';
import { clearToken, loadToken, saveToken } from '../session';
import { DatasetPage } from './dataset-page';
import { QueuePage } from './queue-page';
import { RecordPage } from './record-page';
import { RequestPage } from './request-page';
import { SignIn } from './sign-in';
import { StorageListPage } from './storage-list-page';
import { StorePage } from './store-page';

/** The kind of storage a page shows; its link in the main navigation is the current one. */
function kindOf(route: Route): StorageKind {
  if (route.page === 'record') return 'kvs';
  if (route.page === 'request') return 'queue';
  return route.kind;
}

function Page({ route }: { route: Route }) {
  if (route.page === 'list') return <StorageListPage key={route.kind} kind={route.kind} />;
  if (route.page === 'record')
    return <RecordPage key={`${route.storeId}/${route.key}`} storeId={route.storeId} recordKey={route.key} />;
  if (route.page === 'request')
    return <RequestPage key={`${route.queueId}/${route.requestId}`} queueId={route.queueId} requestId={route.requestId} />;
  if (route.kind === 'kvs') return <StorePage key={route.id} storeId={route.id} />;
  if (route.kind === 'dataset') return <DatasetPage key={route.id} datasetId={route.id} />;
  return <QueuePage key={route.id} queueId={route.id} />;
}

interface Notice {
  text: string;
  kind: 'ok' | 'error';
}

/** The console: sign-in until there is a token, then the page the URL fragment names. */
export function App() {
  const [token, setToken] = useState(loadToken);
  const [notice, setNotice] = useState<Notice | null>(null);
  const route = useRoute();
  const timer = useRef<ReturnType<typeof setTimeout> | undefined>(undefined);

  const notify = useCallback((text: string, kind: 'ok' | 'error' = 'ok') => {
    setNotice({ text, kind });
    clearTimeout(timer.current);
    if (kind === 'ok') timer.current = setTimeout(() => setNotice(null), 6000);
  }, []);

  const signOut = useCallback((reason?: string) => {
    clearToken();
    setToken(null);
    setNotice(reason ? { text: reason, kind: 'error' } : null);
  }, []);

  const api = useMemo(
    () => (token === null ? null : new Api(token, () => signOut('The token was not accepted any more. Sign in again.'))),
    [token, signOut],
  );

  const signIn = (newToken: string) => {
    saveToken(newToken);
    setToken(newToken);
    setNotice(null);
  };

  return (
    <>
      <header class="topbar">
        <a class="brand" href="#/">
          openkvs
        </a>
        {api && (
          <nav aria-label="Main">
            {(['kvs', 'dataset', 'queue'] as const).map((kind) => (
              <a key={kind} href={listHref(kind)} aria-current={kindOf(route) === kind ? 'page' : undefined}>
                {KINDS[kind].title}
              </a>
            ))}
            <button type="button" class="link" onClick={() => signOut()}>
              Sign out
            </button>
          </nav>
        )}
      </header>
      <p class={`notice ${notice?.kind ?? ''}`} role="status" aria-live="polite">
        {notice?.text}
      </p>
      <main>
        {api === null ? (
          <SignIn onSignIn={signIn} />
        ) : (
          <Console.Provider value={{ api, notify }}>
            <Page route={route} />
          </Console.Provider>
        )}
      </main>
    </>
  );
}
