import { useCallback, useMemo, useRef, useState } from 'preact/hooks';
import { Api } from '../api';
import { Console } from '../context';
import { useRoute } from '../route';
import { clearToken, loadToken, saveToken } from '../session';
import { RecordPage } from './record-page';
import { SignIn } from './sign-in';
import { StorePage } from './store-page';
import { StoresPage } from './stores-page';

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
            <a href="#/">Stores</a>
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
            {route.page === 'stores' && <StoresPage />}
            {route.page === 'store' && <StorePage key={route.storeId} storeId={route.storeId} />}
            {route.page === 'record' && (
              <RecordPage key={`${route.storeId}/${route.key}`} storeId={route.storeId} recordKey={route.key} />
            )}
          </Console.Provider>
        )}
      </main>
    </>
  );
}
