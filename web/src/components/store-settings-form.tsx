import { useState } from 'preact/hooks';
import { ACCESS_LABELS, GENERAL_ACCESS, type GeneralAccess, type Store } from '../api';
import { describeError, useConsole } from '../context';

/** Renames a store and changes its general access (one PUT). An empty name makes it unnamed. */
export function StoreSettingsForm({ store, onSaved }: { store: Store; onSaved(): void }) {
  const { api, notify } = useConsole();
  const [busy, setBusy] = useState(false);

  const submit = async (event: Event) => {
    event.preventDefault();
    const form = new FormData(event.currentTarget as HTMLFormElement);
    const name = String(form.get('name') ?? '').trim();
    const generalAccess = String(form.get('access')) as GeneralAccess;
    setBusy(true);
    try {
      const saved = await api.updateStore(store.id, { name: name === '' ? null : name, generalAccess });
      notify(`Saved: ${saved.name ?? 'unnamed store'}, ${ACCESS_LABELS[saved.generalAccess].toLowerCase()}.`);
      onSaved();
    } catch (err) {
      notify(`Could not save the store: ${describeError(err)}`, 'error');
    } finally {
      setBusy(false);
    }
  };

  return (
    <form class="settings" onSubmit={submit} aria-label="Store settings">
      <label>
        Store name
        <input name="name" defaultValue={store.name ?? ''} maxLength={63} placeholder="empty for unnamed" />
      </label>
      <label>
        General access
        <select name="access" defaultValue={store.generalAccess}>
          {GENERAL_ACCESS.map((a) => (
            <option key={a} value={a}>
              {ACCESS_LABELS[a]}
            </option>
          ))}
        </select>
      </label>
      <button type="submit" disabled={busy}>
        Save changes
      </button>
    </form>
  );
}
