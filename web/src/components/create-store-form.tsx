import { useState } from 'preact/hooks';
import type { Store } from '../api';
import { describeError, useConsole } from '../context';

/** Store names: letters, digits and inner hyphens, up to 63 characters. */
const NAME_PATTERN = '[a-zA-Z0-9](?:[a-zA-Z0-9\\-]{0,61}[a-zA-Z0-9])?';

/** Creates a store; an empty name makes an unnamed one. */
export function CreateStoreForm({ onCreated }: { onCreated(store: Store): void }) {
  const { api, notify } = useConsole();
  const [busy, setBusy] = useState(false);

  const submit = async (event: Event) => {
    event.preventDefault();
    const form = event.currentTarget as HTMLFormElement;
    const name = String(new FormData(form).get('name') ?? '').trim();
    setBusy(true);
    try {
      const { store, created } = await api.createStore(name);
      notify(created ? `Created store ${store.name ?? store.id}.` : `A store named ${name} already exists; opened it.`);
      form.reset();
      onCreated(store);
    } catch (err) {
      notify(`Could not create the store: ${describeError(err)}`, 'error');
    } finally {
      setBusy(false);
    }
  };

  return (
    <form class="inline-form" onSubmit={submit}>
      <label>
        New store name
        <input name="name" pattern={NAME_PATTERN} maxLength={63} placeholder="optional" aria-describedby="new-store-help" />
      </label>
      <button type="submit" disabled={busy}>
        Create store
      </button>
      <p id="new-store-help" class="help">
        Letters, digits and inner hyphens, up to 63 characters. Leave it empty for an unnamed store; an existing name opens that
        store.
      </p>
    </form>
  );
}
