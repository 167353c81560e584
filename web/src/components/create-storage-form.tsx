import { useId, useState } from 'preact/hooks';
import type { StorageKind, Storages } from '../api';
import { describeError, useConsole } from '../context';
import { KINDS } from '../kinds';

/** Storage names: letters, digits and inner hyphens, up to 63 characters. */
const NAME_PATTERN = '[a-zA-Z0-9](?:[a-zA-Z0-9\\-]{0,61}[a-zA-Z0-9])?';

interface Props<K extends StorageKind> {
  kind: K;
  onCreated(storage: Storages[K]): void;
}

/** Creates a store, dataset or request queue; an empty name makes an unnamed one. */
export function CreateStorageForm<K extends StorageKind>({ kind, onCreated }: Props<K>) {
  const { api, notify } = useConsole();
  const { noun } = KINDS[kind];
  const [busy, setBusy] = useState(false);
  const help = useId();

  const submit = async (event: Event) => {
    event.preventDefault();
    const form = event.currentTarget as HTMLFormElement;
    const name = String(new FormData(form).get('name') ?? '').trim();
    setBusy(true);
    try {
      const { storage, created } = await api.createStorage(kind, name);
      notify(created ? `Created ${noun} ${storage.name ?? storage.id}.` : `A ${noun} named ${name} already exists; opened it.`);
      form.reset();
      onCreated(storage);
    } catch (err) {
      notify(`Could not create the ${noun}: ${describeError(err)}`, 'error');
    } finally {
      setBusy(false);
    }
  };

  return (
    <form class="inline-form" onSubmit={submit}>
      <label>
        New {noun} name
        <input name="name" pattern={NAME_PATTERN} maxLength={63} placeholder="optional" aria-describedby={help} />
      </label>
      <button type="submit" disabled={busy}>
        Create {noun}
      </button>
      <p id={help} class="help">
        Letters, digits and inner hyphens, up to 63 characters. Leave it empty for an unnamed {noun}; an existing name opens that{' '}
        {noun}.
      </p>
    </form>
  );
}
