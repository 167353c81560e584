import { useState } from 'preact/hooks';
import { ACCESS_LABELS, type AnyStorage, GENERAL_ACCESS, type GeneralAccess, type StorageKind } from '../api';
import { describeError, useConsole } from '../context';
import { capitalize, KINDS } from '../kinds';

/** As the API allows. */
const TITLE_MAX = 1024;

interface Props {
  kind: StorageKind;
  storage: AnyStorage;
  onSaved(): void;
}

/** Renames a store, dataset or request queue, sets its title and its general access (one PUT). Empty name: unnamed. */
export function StorageSettingsForm({ kind, storage, onSaved }: Props) {
  const { api, notify } = useConsole();
  const { noun } = KINDS[kind];
  const [busy, setBusy] = useState(false);

  const submit = async (event: Event) => {
    event.preventDefault();
    const form = new FormData(event.currentTarget as HTMLFormElement);
    const name = String(form.get('name') ?? '').trim();
    const title = String(form.get('title') ?? '').trim();
    const generalAccess = String(form.get('access')) as GeneralAccess;
    setBusy(true);
    try {
      const saved = await api.updateStorage(kind, storage.id, {
        name: name === '' ? null : name,
        title: title === '' ? null : title,
        generalAccess,
      });
      notify(`Saved: ${saved.name ?? `unnamed ${noun}`}, ${ACCESS_LABELS[saved.generalAccess].toLowerCase()}.`);
      onSaved();
    } catch (err) {
      notify(`Could not save the ${noun}: ${describeError(err)}`, 'error');
    } finally {
      setBusy(false);
    }
  };

  return (
    <form class="settings" onSubmit={submit} aria-label={`${capitalize(noun)} settings`}>
      <label>
        {capitalize(noun)} name
        <input name="name" defaultValue={storage.name ?? ''} maxLength={63} placeholder="empty for unnamed" />
      </label>
      <label>
        Title
        <input name="title" defaultValue={storage.title ?? ''} maxLength={TITLE_MAX} placeholder="optional" />
      </label>
      <label>
        General access
        <select name="access" defaultValue={storage.generalAccess}>
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
