import { useState } from 'preact/hooks';
import { Api, ApiError } from '../api';
import { describeError } from '../context';
import { usePageTitle } from './page-title';

/** Asks for an API token and keeps it only once the API accepts it. */
export function SignIn({ onSignIn }: { onSignIn(token: string): void }) {
  const [error, setError] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);
  const heading = usePageTitle('Sign in');

  const submit = async (event: Event) => {
    event.preventDefault();
    const token = (new FormData(event.currentTarget as HTMLFormElement).get('token') as string | null)?.trim() ?? '';
    if (token === '') return;
    setBusy(true);
    setError(null);
    try {
      await new Api(token).listStorages('kvs', { offset: 0, limit: 1, desc: false, unnamed: false });
      onSignIn(token);
    } catch (err) {
      setError(err instanceof ApiError && err.status === 401 ? 'That token was not accepted.' : describeError(err));
      setBusy(false);
    }
  };

  return (
    <section class="sign-in">
      <h1 ref={heading} tabIndex={-1}>
        Sign in to openkvs
      </h1>
      <form onSubmit={submit}>
        <label for="token">API token</label>
        <input
          id="token"
          name="token"
          type="password"
          autoComplete="off"
          spellcheck={false}
          required
          aria-describedby="token-help"
          aria-invalid={error !== null}
        />
        <p id="token-help" class="help">
          The token is kept in this tab only (sessionStorage) and sent as an <code>Authorization</code> header.
        </p>
        {error && (
          <p class="error" role="alert">
            {error}
          </p>
        )}
        <button type="submit" disabled={busy}>
          {busy ? 'Signing in…' : 'Sign in'}
        </button>
      </form>
    </section>
  );
}
