import type { ComponentChildren } from 'preact';
import { useState } from 'preact/hooks';
import type { StorageKind, Storages } from '../api';
import { describeError, useConsole } from '../context';
import { formatBytes, formatDate } from '../format';
import { capitalize, displayName, KINDS } from '../kinds';
import { listHref, navigate } from '../route';
import { useLoad } from '../use-load';
import { ConfirmDialog } from './confirm-dialog';
import { LoadError } from './load-error';
import { usePageTitle } from './page-title';
import { StorageSettingsForm } from './storage-settings-form';

interface Props<K extends StorageKind> {
  kind: K;
  id: string;
  /** More `<dt>`/`<dd>` pairs for the facts, after the dates. */
  facts(storage: Storages[K]): ComponentChildren;
  /** The kind's own part of the page; `reload` reads the storage again (its counts, its size). */
  children(storage: Storages[K], reload: () => void): ComponentChildren;
}

/** The frame of a store's, dataset's or request queue's page: its facts, settings and deletion, then its contents. */
export function StoragePage<K extends StorageKind>({ kind, id, facts, children }: Props<K>) {
  const { api, notify } = useConsole();
  const words = KINDS[kind];
  const loaded = useLoad(() => api.getStorage(kind, id), `${kind}/${id}`);
  const [confirming, setConfirming] = useState(false);
  const s = loaded.data;
  const title = s ? displayName(kind, s) : capitalize(words.noun);
  const heading = usePageTitle(title);

  const remove = async () => {
    setConfirming(false);
    try {
      await api.deleteStorage(kind, id);
      notify(`Deleted ${words.noun} ${s?.name ?? id}.`);
      navigate(listHref(kind));
    } catch (err) {
      notify(`Could not delete the ${words.noun}: ${describeError(err)}`, 'error');
    }
  };

  return (
    <section>
      <nav class="crumbs" aria-label="Breadcrumb">
        <a href={listHref(kind)}>{words.title}</a>
      </nav>
      <h1 ref={heading} tabIndex={-1}>
        {title}
      </h1>
      <LoadError
        error={loaded.error}
        action={`load the ${words.noun}`}
        notFound={`This ${words.noun} does not exist (any more).`}
      />
      {s && (
        <>
          <dl class="facts">
            <dt>ID</dt>
            <dd>
              <code>{s.id}</code>
            </dd>
            {s.title && (
              <>
                <dt>Title</dt>
                <dd>{s.title}</dd>
              </>
            )}
            <dt>Created</dt>
            <dd>{formatDate(s.createdAt)}</dd>
            <dt>Modified</dt>
            <dd>{formatDate(s.modifiedAt)}</dd>
            {facts(s)}
            <dt>Size</dt>
            <dd>{formatBytes(s.stats.storageBytes)}</dd>
          </dl>
          <StorageSettingsForm kind={kind} storage={s} onSaved={loaded.reload} />
          <p>
            <button type="button" class="danger" onClick={() => setConfirming(true)}>
              Delete {words.noun}
            </button>
          </p>
          {children(s, loaded.reload)}
        </>
      )}
      {confirming && (
        <ConfirmDialog
          title={`Delete this ${words.noun}?`}
          confirmLabel={`Delete ${words.noun}`}
          onConfirm={remove}
          onCancel={() => setConfirming(false)}
        >
          <p>
            The {words.noun} <strong>{title}</strong> (<code>{id}</code>) and {words.contents} are deleted for good.
          </p>
        </ConfirmDialog>
      )}
    </section>
  );
}
